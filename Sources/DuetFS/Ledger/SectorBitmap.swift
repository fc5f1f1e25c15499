/// One bit per sector of a ledger entry's span: how fragmented credit is stored in a bit per
/// 4 KiB, which is what keeps the worst case (every other sector credited) at 32 MiB per TiB.
struct SectorBitmap: Hashable, Sendable {
    private(set) var words: [UInt64]
    /// Bits in use; bits past it in the last word are always zero.
    private(set) var count: Int

    init(count: Int) {
        self.count = count
        self.words = [UInt64](repeating: 0, count: (count + 63) / 64)
    }

    /// A bitmap decoded from `bytes`: bit `i` is bit `i % 8` of byte `i / 8`.
    init(count: Int, littleEndianBytes bytes: some Collection<UInt8>) {
        self.init(count: count)
        for (index, byte) in bytes.enumerated() where byte != 0 {
            words[index / 8] |= UInt64(byte) << (UInt64(index % 8) * 8)
        }
        if count % 64 != 0, let last = words.indices.last { words[last] &= (1 << UInt64(count % 64)) - 1 }
    }

    subscript(bit: Int) -> Bool { words[bit / 64] & (1 << UInt64(bit % 64)) != 0 }

    /// Grows to `newCount` bits, the new ones clear; amortised O(1) per word as arrays grow.
    mutating func grow(to newCount: Int) {
        guard newCount > count else { return }
        count = newCount
        let needed = (newCount + 63) / 64
        if needed > words.count { words.append(contentsOf: repeatElement(0, count: needed - words.count)) }
    }

    mutating func set(_ bits: Range<Int>) { apply(bits) { $0 | $1 } }
    mutating func clear(_ bits: Range<Int>) { apply(bits) { $0 & ~$1 } }

    /// Combines every word that `bits` touches with the mask of the touched bits.
    private mutating func apply(_ bits: Range<Int>, _ combine: (UInt64, UInt64) -> UInt64) {
        guard !bits.isEmpty else { return }
        precondition(bits.lowerBound >= 0 && bits.upperBound <= count)
        var bit = bits.lowerBound
        while bit < bits.upperBound {
            let word = bit / 64
            let offset = bit % 64
            let width = Swift.min(64 - offset, bits.upperBound - bit)
            let mask: UInt64 = width == 64 ? ~0 : ((1 << UInt64(width)) - 1) << UInt64(offset)
            words[word] = combine(words[word], mask)
            bit += width
        }
    }

    var setCount: Int { words.reduce(0) { $0 + $1.nonzeroBitCount } }
    var isAllSet: Bool { setCount == count }

    var firstSet: Int? {
        guard let word = words.firstIndex(where: { $0 != 0 }) else { return nil }
        return word * 64 + words[word].trailingZeroBitCount
    }

    var lastSet: Int? {
        guard let word = words.lastIndex(where: { $0 != 0 }) else { return nil }
        return word * 64 + 63 - words[word].leadingZeroBitCount
    }

    /// The runs of set bits, ascending. Whole-zero and whole-one words are skipped a word at a time.
    var runs: [Range<Int>] {
        var out: [Range<Int>] = []
        var runStart: Int?
        for (index, word) in words.enumerated() {
            let base = index * 64
            if word == 0 {
                if let start = runStart { out.append(start..<base); runStart = nil }
                continue
            }
            if word == ~0 {
                if runStart == nil { runStart = base }
                continue
            }
            for offset in 0..<64 {
                let isSet = word & (1 << UInt64(offset)) != 0
                if isSet, runStart == nil { runStart = base + offset }
                if !isSet, let start = runStart { out.append(start..<base + offset); runStart = nil }
            }
        }
        if let start = runStart { out.append(start..<Swift.min(words.count * 64, count)) }
        return out
    }

    /// The bytes in the order `init(count:littleEndianBytes:)` reads them, `(count + 7) / 8` of them.
    var littleEndianBytes: [UInt8] {
        var out: [UInt8] = []
        let byteCount = (count + 7) / 8
        out.reserveCapacity(byteCount)
        for index in 0..<byteCount { out.append(UInt8(truncatingIfNeeded: words[index / 8] >> (UInt64(index % 8) * 8))) }
        return out
    }
}

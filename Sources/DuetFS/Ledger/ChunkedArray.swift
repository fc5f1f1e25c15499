/// A sorted sequence kept as a list of bounded chunks, so an edit in the middle moves at most a
/// chunk's worth of elements instead of the whole array. A flat array of 100,000 ledger entries
/// would move megabytes for every credit that splits an entry; here an edit costs
/// O(log n + chunk size + n / chunk size).
///
/// Indices are (chunk, offset) pairs and are invalidated by any edit, as with `Array`.
struct ChunkedArray<Element>: BidirectionalCollection, RangeReplaceableCollection {
    struct Index: Comparable, Hashable {
        var chunk: Int
        var offset: Int

        static func < (lhs: Index, rhs: Index) -> Bool {
            (lhs.chunk, lhs.offset) < (rhs.chunk, rhs.offset)
        }
    }

    /// Chunks grow to twice this before they split, and none is ever empty.
    let chunkCapacity: Int
    private(set) var chunks: [[Element]] = []
    private(set) var count = 0

    init() { chunkCapacity = 512 }

    /// A small capacity makes tests exercise splits and merges with few elements.
    init(chunkCapacity: Int) {
        precondition(chunkCapacity > 0)
        self.chunkCapacity = chunkCapacity
    }

    var startIndex: Index { Index(chunk: 0, offset: 0) }
    var endIndex: Index { Index(chunk: chunks.count, offset: 0) }

    func index(after index: Index) -> Index {
        index.offset + 1 < chunks[index.chunk].count
            ? Index(chunk: index.chunk, offset: index.offset + 1) : Index(chunk: index.chunk + 1, offset: 0)
    }

    func index(before index: Index) -> Index {
        index.offset > 0
            ? Index(chunk: index.chunk, offset: index.offset - 1)
            : Index(chunk: index.chunk - 1, offset: chunks[index.chunk - 1].count - 1)
    }

    subscript(index: Index) -> Element {
        get { chunks[index.chunk][index.offset] }
        _modify { yield &chunks[index.chunk][index.offset] }
    }

    var isEmpty: Bool { count == 0 }

    /// O(chunks between), not O(elements between) as the default would be.
    func distance(from start: Index, to end: Index) -> Int {
        if start > end { return -distance(from: end, to: start) }
        if start.chunk == end.chunk { return end.offset - start.offset }
        var total = chunks[start.chunk].count - start.offset
        for chunk in chunks[(start.chunk + 1)..<end.chunk] { total += chunk.count }
        if end.chunk < chunks.count { total += end.offset }
        return total
    }

    /// The first index whose element satisfies `predicate`, which must be false for a prefix of the
    /// collection and true for the rest: binary search over chunks (by their last element), then inside one.
    func partitionPoint(where predicate: (Element) -> Bool) -> Index {
        var low = 0
        var high = chunks.count
        while low < high {
            let middle = (low + high) / 2
            if predicate(chunks[middle][chunks[middle].count - 1]) { high = middle } else { low = middle + 1 }
        }
        guard low < chunks.count else { return endIndex }
        let chunk = chunks[low]
        var lowOffset = 0
        var highOffset = chunk.count
        while lowOffset < highOffset {
            let middle = (lowOffset + highOffset) / 2
            if predicate(chunk[middle]) { highOffset = middle } else { lowOffset = middle + 1 }
        }
        return Index(chunk: low, offset: lowOffset)
    }

    mutating func replaceSubrange<C: Collection>(_ range: Range<Index>, with newElements: C) where C.Element == Element {
        let removed = distance(from: range.lowerBound, to: range.upperBound)
        count += newElements.count - removed
        if chunks.isEmpty {
            if !newElements.isEmpty { chunks = [Array(newElements)] }
            split(0)
            return
        }
        let lower = range.lowerBound
        // Where the edit ends, as a position inside a chunk (the end of the collection is the end of the last chunk).
        let upper =
            range.upperBound.chunk == chunks.count
            ? Index(chunk: chunks.count - 1, offset: chunks[chunks.count - 1].count) : range.upperBound
        let first = Swift.min(lower.chunk, chunks.count - 1)
        let lowerOffset = lower.chunk == chunks.count ? chunks[first].count : lower.offset
        if first == upper.chunk {
            chunks[first].replaceSubrange(lowerOffset..<upper.offset, with: newElements)
        } else {
            var merged = Array(chunks[first][..<lowerOffset])
            merged.append(contentsOf: newElements)
            merged.append(contentsOf: chunks[upper.chunk][upper.offset...])
            chunks.replaceSubrange(first...upper.chunk, with: CollectionOfOne(merged))
        }
        if chunks[first].isEmpty {
            chunks.remove(at: first)
        } else {
            split(first)
        }
    }

    /// Splits chunk `index` into pieces of `chunkCapacity` once it holds more than twice that.
    /// (Chunks that shrink are not merged: a chunk is never empty, so the chunk count stays at most
    /// the element count, and edits that empty a chunk remove it.)
    private mutating func split(_ index: Int) {
        guard index < chunks.count, chunks[index].count > 2 * chunkCapacity else { return }
        let whole = chunks[index]
        let pieces = stride(from: 0, to: whole.count, by: chunkCapacity).map {
            Array(whole[$0..<Swift.min($0 + chunkCapacity, whole.count)])
        }
        chunks.replaceSubrange(index...index, with: pieces)
    }
}

extension ChunkedArray: Sendable where Element: Sendable {}

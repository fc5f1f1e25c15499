/// A set of `UInt64` values stored as sorted, disjoint, non-adjacent half-open ranges.
///
/// Done-sets hold long runs (a file read from start to end, a whole extent scrubbed), so a
/// range list is orders of magnitude smaller than a bitmap and needs no allocation per page.
/// Named `ExtentSet` to stay clear of the standard library's `RangeSet`.
///
/// Costs: lookups are O(log n) in the number of ranges; `insert` and `remove` are O(log n) to
/// find the place plus the array shift of a sorted-array edit (a `memmove`, cheap at the sizes
/// a task's done-set reaches).
public struct ExtentSet: Hashable, Sendable, Sequence, CustomStringConvertible {
    /// Invariant: sorted by `lowerBound`, none empty, and between any two a gap of at least one value
    /// (touching ranges are coalesced, so equal sets have equal `ranges`).
    public private(set) var ranges: [Range<UInt64>] = []
    /// The number of values in the set (the sum of the range lengths), kept up to date on every edit.
    public private(set) var count: UInt64 = 0

    public init() {}

    public init(_ ranges: some Sequence<Range<UInt64>>) {
        for range in ranges { insert(range) }
    }

    public var isEmpty: Bool { ranges.isEmpty }
    /// The number of disjoint ranges: the memory the set occupies.
    public var rangeCount: Int { ranges.count }
    /// The smallest range that covers every value, or nil when empty.
    public var span: Range<UInt64>? {
        guard let first = ranges.first, let last = ranges.last else { return nil }
        return first.lowerBound..<last.upperBound
    }

    public func makeIterator() -> IndexingIterator<[Range<UInt64>]> { ranges.makeIterator() }

    public var description: String {
        "ExtentSet(" + ranges.map { "\($0.lowerBound)..<\($0.upperBound)" }.joined(separator: ", ") + ")"
    }

    // MARK: Edits

    /// Adds every value of `range`, coalescing with ranges it overlaps or touches.
    public mutating func insert(_ range: Range<UInt64>) {
        guard !range.isEmpty else { return }
        // Ranges in lo..<hi overlap or touch `range`: their upper bound reaches its lower bound
        // and their lower bound does not pass its upper bound.
        let lo = firstIndex { $0.upperBound >= range.lowerBound }
        let hi = firstIndex { $0.lowerBound > range.upperBound }
        if lo == hi {
            ranges.insert(range, at: lo)
            count += length(range)
            return
        }
        let merged = Swift.min(ranges[lo].lowerBound, range.lowerBound)..<Swift.max(ranges[hi - 1].upperBound, range.upperBound)
        count -= ranges[lo..<hi].reduce(0) { $0 + length($1) }
        count += length(merged)
        ranges.replaceSubrange(lo..<hi, with: CollectionOfOne(merged))
    }

    /// Removes every value of `range`, splitting a range that straddles it.
    public mutating func remove(_ range: Range<UInt64>) {
        guard !range.isEmpty else { return }
        let lo = firstIndex { $0.upperBound > range.lowerBound }
        let hi = firstIndex { $0.lowerBound >= range.upperBound }
        guard lo < hi else { return }
        var kept: [Range<UInt64>] = []
        kept.reserveCapacity(2)
        if ranges[lo].lowerBound < range.lowerBound { kept.append(ranges[lo].lowerBound..<range.lowerBound) }
        if ranges[hi - 1].upperBound > range.upperBound { kept.append(range.upperBound..<ranges[hi - 1].upperBound) }
        count -= ranges[lo..<hi].reduce(0) { $0 + length($1) }
        count += kept.reduce(0) { $0 + length($1) }
        ranges.replaceSubrange(lo..<hi, with: kept)
    }

    public mutating func insert(_ value: UInt64) {
        guard value < UInt64.max else { return }
        insert(value..<value + 1)
    }

    public mutating func removeAll() {
        ranges.removeAll()
        count = 0
    }

    public mutating func formUnion(_ other: ExtentSet) {
        for range in other.ranges { insert(range) }
    }

    // MARK: Queries

    public func contains(_ value: UInt64) -> Bool {
        let i = firstIndex { $0.upperBound > value }
        return i < ranges.count && ranges[i].lowerBound <= value
    }

    /// Whether every value of `range` is in the set (true for an empty range).
    public func containsAll(_ range: Range<UInt64>) -> Bool {
        guard !range.isEmpty else { return true }
        let i = firstIndex { $0.upperBound > range.lowerBound }
        return i < ranges.count && ranges[i].lowerBound <= range.lowerBound && ranges[i].upperBound >= range.upperBound
    }

    /// Whether any value of `range` is in the set.
    public func intersects(_ range: Range<UInt64>) -> Bool {
        guard !range.isEmpty else { return false }
        let i = firstIndex { $0.upperBound > range.lowerBound }
        return i < ranges.count && ranges[i].lowerBound < range.upperBound
    }

    /// The parts of the set inside `range`, in ascending order.
    public func intersection(_ range: Range<UInt64>) -> [Range<UInt64>] {
        guard !range.isEmpty else { return [] }
        var out: [Range<UInt64>] = []
        var i = firstIndex { $0.upperBound > range.lowerBound }
        while i < ranges.count, ranges[i].lowerBound < range.upperBound {
            out.append(Swift.max(ranges[i].lowerBound, range.lowerBound)..<Swift.min(ranges[i].upperBound, range.upperBound))
            i += 1
        }
        return out
    }

    /// The number of values of `range` that are in the set.
    public func count(in range: Range<UInt64>) -> UInt64 {
        intersection(range).reduce(0) { $0 + length($1) }
    }

    /// The parts of `range` that are not in the set, in ascending order (`range` minus the set).
    public func gaps(in range: Range<UInt64>) -> [Range<UInt64>] {
        guard !range.isEmpty else { return [] }
        var out: [Range<UInt64>] = []
        var cursor = range.lowerBound
        for covered in intersection(range) {
            if covered.lowerBound > cursor { out.append(cursor..<covered.lowerBound) }
            cursor = covered.upperBound
        }
        if cursor < range.upperBound { out.append(cursor..<range.upperBound) }
        return out
    }

    public func subtracting(_ other: ExtentSet) -> ExtentSet {
        var result = ExtentSet()
        for range in ranges {
            for gap in other.gaps(in: range) { result.appendAscending(gap) }
        }
        return result
    }

    public func union(_ other: ExtentSet) -> ExtentSet {
        var result = self
        result.formUnion(other)
        return result
    }

    public func intersection(_ other: ExtentSet) -> ExtentSet {
        var result = ExtentSet()
        for range in ranges {
            for part in other.intersection(range) { result.appendAscending(part) }
        }
        return result
    }

    // MARK: Internals

    /// Appends a range that lies after every range already present (callers guarantee the order),
    /// in O(1): the set operations above produce their output in ascending order.
    private mutating func appendAscending(_ range: Range<UInt64>) {
        guard !range.isEmpty else { return }
        if let last = ranges.last, last.upperBound == range.lowerBound {
            ranges[ranges.count - 1] = last.lowerBound..<range.upperBound
        } else {
            ranges.append(range)
        }
        count += length(range)
    }

    /// Binary search: the first index whose range satisfies `predicate`, which must be false for a
    /// prefix of `ranges` and true for the rest (true of every predicate used above, since ranges are sorted).
    private func firstIndex(where predicate: (Range<UInt64>) -> Bool) -> Int {
        var low = 0
        var high = ranges.count
        while low < high {
            let middle = (low + high) / 2
            if predicate(ranges[middle]) { high = middle } else { low = middle + 1 }
        }
        return low
    }

    private func length(_ range: Range<UInt64>) -> UInt64 { range.upperBound - range.lowerBound }
}

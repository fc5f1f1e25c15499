/// The bytes of a device's extents at or after an offset, for what a deadline projects
/// (`--idle --deadline`): asked before every read, so a binary search over sums kept from the end.
struct RemainingWork: Sendable {
    private let spans: [Range<UInt64>]
    /// `fromEnd[i]`: bytes of `spans[i...]`.
    private let fromEnd: [UInt64]

    init(spans: [Range<UInt64>]) {
        self.spans = spans.sorted { $0.lowerBound < $1.lowerBound }
        var sums = [UInt64](repeating: 0, count: self.spans.count + 1)
        for index in self.spans.indices.reversed() { sums[index] = sums[index + 1] + UInt64(self.spans[index].count) }
        fromEnd = sums
    }

    func bytes(from offset: UInt64) -> UInt64 {
        // The first span that ends after `offset`.
        var low = 0
        var high = spans.count
        while low < high {
            let middle = (low + high) / 2
            if spans[middle].upperBound > offset { high = middle } else { low = middle + 1 }
        }
        guard low < spans.count else { return 0 }
        let span = spans[low]
        return span.upperBound - max(span.lowerBound, offset) + fromEnd[low + 1]
    }
}

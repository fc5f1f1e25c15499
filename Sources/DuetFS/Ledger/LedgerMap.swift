/// The ledger's content in memory: sorted, disjoint entries over sector numbers, with the same
/// shape the snapshot stores, so memory use and snapshot size follow each other.
///
/// Every edit is "last writer wins" per sector: a credit replaces whatever the sectors held,
/// a void clears them. Replaying the same sequence of edits therefore always rebuilds the same
/// map, which is what the journal relies on.
struct LedgerMap: Sendable {
    private(set) var entries = ChunkedArray<LedgerEntry>()
    private(set) var creditedSectors: UInt64 = 0
    /// Credits whose times differ by at most this many seconds may share an entry (which keeps
    /// the older time).
    let timeResolution: UInt64
    /// The last complete pass's time: no entry merges credits from before it with credits from
    /// at or after it (see `LedgerEntry.timesFit`).
    var completionBoundary: UInt64 = 0

    init(timeResolution: UInt64) {
        self.timeResolution = timeResolution
    }

    /// Sectors `sectors` were verified at `time` while their extent had `generation`.
    mutating func credit(_ sectors: Range<UInt64>, generation: UInt64, time: UInt64) {
        guard !sectors.isEmpty else { return }
        if creditInside(sectors, generation: generation, time: time) { return }
        carve(sectors)
        let index = entries.partitionPoint { $0.start >= sectors.upperBound }
        let entry = LedgerEntry(span: sectors, generation: generation, time: time)
        creditedSectors += entry.creditedSectors
        var position: ChunkedArray<LedgerEntry>.Index
        if index > entries.startIndex,
            entries[entries.index(before: index)].absorb(entry, timeResolution: timeResolution, boundary: completionBoundary)
        {
            position = entries.index(before: index)
        } else {
            entries.insert(entry, at: index)
            // Found again: an insert may split a chunk and move indices.
            position = entries.partitionPoint { $0.start >= sectors.lowerBound }
        }
        let next = entries.index(after: position)
        if next < entries.endIndex {
            let right = entries[next]
            if entries[position].absorb(right, timeResolution: timeResolution, boundary: completionBoundary) { entries.remove(at: next) }
        }
    }

    /// Clears every credit in `sectors`.
    mutating func void(_ sectors: Range<UInt64>) {
        guard !sectors.isEmpty else { return }
        carve(sectors)
    }

    /// Appends an entry that lies after every entry present (loading a snapshot).
    mutating func appendLoaded(_ loaded: LedgerEntry) {
        precondition(entries.last.map { $0.end <= loaded.start } ?? true)
        var entry = loaded
        let (newest, overflow) = entry.time.addingReportingOverflow(timeResolution)
        entry.newest = overflow ? UInt64.max : newest
        creditedSectors += entry.creditedSectors
        entries.append(entry)
    }

    /// The entries overlapping `sectors`, unclipped.
    func entries(overlapping sectors: Range<UInt64>) -> Slice<ChunkedArray<LedgerEntry>> {
        let lo = entries.partitionPoint { $0.end > sectors.lowerBound }
        let hi = entries.partitionPoint { $0.start >= sectors.upperBound }
        return entries[lo..<Swift.max(lo, hi)]
    }

    /// Fast path: the credit falls inside one entry it can join (same generation, close in time),
    /// the common case of a file read again or a scrub and the watcher crediting the same extent.
    private mutating func creditInside(_ sectors: Range<UInt64>, generation: UInt64, time: UInt64) -> Bool {
        let index = entries.partitionPoint { $0.end > sectors.lowerBound }
        guard index < entries.endIndex else { return false }
        let entry = entries[index]
        guard entry.start <= sectors.lowerBound, entry.end >= sectors.upperBound, entry.generation == generation,
            entry.timesFit(time, time, resolution: timeResolution, boundary: completionBoundary)
        else { return false }
        entries[index].time = Swift.min(entry.time, time)
        entries[index].newest = Swift.max(entry.newest, time)
        guard entry.bitmap != nil else { return true }
        let before = entries[index].creditedSectors
        entries[index].bitmap!.set(Int(sectors.lowerBound - entry.start)..<Int(sectors.upperBound - entry.start))
        if entries[index].bitmap!.isAllSet { entries[index].bitmap = nil }
        creditedSectors += entries[index].creditedSectors - before
        return true
    }

    /// Removes all credit in `sectors`, splitting the entries at its edges.
    private mutating func carve(_ sectors: Range<UInt64>) {
        let lo = entries.partitionPoint { $0.end > sectors.lowerBound }
        let hi = entries.partitionPoint { $0.start >= sectors.upperBound }
        guard lo < hi else { return }
        var kept: [LedgerEntry] = []
        let first = entries[lo]
        let last = entries[entries.index(before: hi)]
        if first.start < sectors.lowerBound, let left = first.sliced(to: first.start..<sectors.lowerBound) {
            kept.append(left)
        }
        if last.end > sectors.upperBound, let right = last.sliced(to: sectors.upperBound..<last.end) {
            kept.append(right)
        }
        creditedSectors -= entries[lo..<hi].reduce(0) { $0 + $1.creditedSectors }
        creditedSectors += kept.reduce(0) { $0 + $1.creditedSectors }
        entries.replaceSubrange(lo..<hi, with: kept)
    }
}

/// One stretch of credited sectors with one extent generation and one verification time.
///
/// Units are sectors, not bytes. A full entry (no bitmap) credits every sector of its span; a
/// fragmented one carries a bit per sector of its span, trimmed so that its first and last
/// sectors are credited, and never all set (that would be a full entry).
///
/// Entries stand for extents: credits of one extent share its generation, so they coalesce.
/// Credits with different generations never share an entry, because validity is an exact
/// generation match per credit.
struct LedgerEntry: Hashable, Sendable {
    var start: UInt64
    var end: UInt64
    var generation: UInt64
    /// The oldest verification time among the credits merged here (seconds since the epoch): an
    /// entry may claim less recent verification than the truth, never more.
    var time: UInt64
    /// The newest verification time merged here, in memory only: merging requires
    /// `newest - time <= timeResolution`, so every credit's true time lies in
    /// `time ... time + timeResolution`. Entries loaded from a snapshot take `time + timeResolution`,
    /// the most the truth can be.
    var newest: UInt64
    var bitmap: SectorBitmap?

    /// Bytes a header costs in the snapshot, roughly (varint gap, length, generation and time
    /// deltas): what merging into a bitmap must not exceed to be worth it.
    static let headerCost = 8
    /// The largest span a fragmented entry may have: 2^15 sectors, 128 MiB at 4 KiB (a btrfs data
    /// extent's maximum), a 4 KiB bitmap; keeps each edit of a bitmap cheap.
    static let maxBitmapSectors: UInt64 = 1 << 15

    init(span: Range<UInt64>, generation: UInt64, time: UInt64, bitmap: SectorBitmap? = nil) {
        self.start = span.lowerBound
        self.end = span.upperBound
        self.generation = generation
        self.time = time
        self.newest = time
        self.bitmap = bitmap
    }

    /// Whether credits with times in `time ... newest` and in `other` together span at most
    /// `resolution` and lie on one side of `boundary` (the last complete pass): an entry keeps
    /// its oldest time, so one that straddled it would hide a newer credit from the next scrub.
    func timesFit(_ otherOldest: UInt64, _ otherNewest: UInt64, resolution: UInt64, boundary: UInt64 = 0) -> Bool {
        let oldest = Swift.min(time, otherOldest)
        let newestOfAll = Swift.max(newest, otherNewest)
        return newestOfAll - oldest <= resolution && (oldest >= boundary || newestOfAll < boundary)
    }

    var span: Range<UInt64> { start..<end }

    var creditedSectors: UInt64 { bitmap.map { UInt64($0.setCount) } ?? end - start }

    /// The snapshot bytes this entry costs, approximately.
    var cost: Int { Self.headerCost + (bitmap.map { ($0.count + 7) / 8 } ?? 0) }

    /// The credited sectors as absolute runs, ascending.
    var runs: [Range<UInt64>] {
        guard let bitmap else { return [span] }
        return bitmap.runs.map { start + UInt64($0.lowerBound)..<start + UInt64($0.upperBound) }
    }

    /// The part of this entry inside `window`, trimmed to its credited sectors, or nil if none.
    func sliced(to window: Range<UInt64>) -> LedgerEntry? {
        let lower = Swift.max(start, window.lowerBound)
        let upper = Swift.min(end, window.upperBound)
        guard lower < upper else { return nil }
        guard let bitmap else {
            var part = LedgerEntry(span: lower..<upper, generation: generation, time: time)
            part.newest = newest
            return part
        }
        var part = SectorBitmap(count: Int(upper - lower))
        let offset = Int(lower - start)
        for run in bitmap.runs {
            let from = Swift.max(run.lowerBound, offset)
            let to = Swift.min(run.upperBound, offset + part.count)
            if from < to { part.set(from - offset..<to - offset) }
        }
        var sliced = LedgerEntry.normalized(start: lower, bitmap: part, generation: generation, time: time)
        sliced?.newest = newest
        return sliced
    }

    /// An entry with `bitmap` trimmed to its first and last set bits; full if every bit is set.
    static func normalized(start: UInt64, bitmap: SectorBitmap, generation: UInt64, time: UInt64) -> LedgerEntry? {
        guard let first = bitmap.firstSet, let last = bitmap.lastSet else { return nil }
        let span = start + UInt64(first)..<start + UInt64(last) + 1
        if bitmap.setCount == last - first + 1 { return LedgerEntry(span: span, generation: generation, time: time) }
        if first == 0, last == bitmap.count - 1 { return LedgerEntry(span: span, generation: generation, time: time, bitmap: bitmap) }
        var trimmed = SectorBitmap(count: last - first + 1)
        for run in bitmap.runs { trimmed.set(run.lowerBound - first..<run.upperBound - first) }
        return LedgerEntry(span: span, generation: generation, time: time, bitmap: trimmed)
    }

    /// Takes `right` (which lies at or after this entry's end) into this entry if they share a
    /// generation, their times are within `timeResolution`, and one entry costs no more snapshot
    /// bytes than two. Edits the bitmap in place, so a growing fragmented extent costs O(1) per credit.
    mutating func absorb(_ right: LedgerEntry, timeResolution: UInt64, boundary: UInt64 = 0) -> Bool {
        guard right.generation == generation, right.start >= end,
            timesFit(right.time, right.newest, resolution: timeResolution, boundary: boundary)
        else { return false }
        if bitmap == nil, right.bitmap == nil, right.start == end {
            end = right.end
            time = Swift.min(time, right.time)
            newest = Swift.max(newest, right.newest)
            return true
        }
        let newSpan = right.end - start
        guard newSpan <= Self.maxBitmapSectors,
            Self.headerCost + Int((newSpan + 7) / 8) <= cost + right.cost
        else { return false }
        if bitmap == nil {
            var full = SectorBitmap(count: Int(end - start))
            full.set(0..<full.count)
            bitmap = full
        }
        bitmap!.grow(to: Int(newSpan))
        for run in right.runs { bitmap!.set(Int(run.lowerBound - start)..<Int(run.upperBound - start)) }
        end = right.end
        time = Swift.min(time, right.time)
        newest = Swift.max(newest, right.newest)
        // Not all set now: either side had a hole or there was a gap between them.
        return true
    }
}

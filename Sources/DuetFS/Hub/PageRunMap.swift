/// One file's pending pages for one task: sorted, disjoint runs of pages, each with its pending kinds.
///
/// Runs rather than a page table because events come in runs (large folios, readahead windows,
/// writeback ranges): a 1 GiB file read sequentially is one run, not 262,144 entries.
/// Adjacent runs with equal kinds are coalesced, so a page has exactly one state.
struct PageRunMap: Sendable {
    struct Run: Hashable, Sendable {
        var pages: Range<UInt64>
        var kinds: CacheEventKinds
        var count: UInt64 { pages.upperBound - pages.lowerBound }
    }

    /// What an update did, in pages.
    struct Outcome {
        /// Pages that became pending.
        var stored: UInt64 = 0
        /// Pages whose pending changes cancelled out and that are no longer pending.
        var cancelled: UInt64 = 0
        /// Pages that would have become pending but found no capacity.
        var overflowed: UInt64 = 0
    }

    private(set) var runs: [Run] = []
    private(set) var pageCount: UInt64 = 0

    var isEmpty: Bool { runs.isEmpty }

    /// Applies `transform` to the pending kinds of every page of `range` (empty kinds for a page not
    /// pending); a page left with no kinds stops being pending. At most `capacity` pages become newly
    /// pending; the rest are counted as overflowed, never dropped silently.
    mutating func update(_ range: Range<UInt64>, capacity: UInt64, transform: (CacheEventKinds) -> CacheEventKinds) -> Outcome {
        var outcome = Outcome()
        guard !range.isEmpty else { return outcome }
        let lo = firstIndex { $0.pages.upperBound > range.lowerBound }
        // Fast path, the common repeat: the range lies inside one run whose kinds it leaves unchanged.
        if lo < runs.count, runs[lo].pages.lowerBound <= range.lowerBound, runs[lo].pages.upperBound >= range.upperBound,
            transform(runs[lo].kinds) == runs[lo].kinds
        {
            return outcome
        }
        let hi = firstIndex { $0.pages.lowerBound >= range.upperBound }
        var pieces: [Run] = []
        var capacityLeft = capacity

        func fillGap(_ gap: Range<UInt64>) {
            guard !gap.isEmpty else { return }
            let kinds = transform([])
            guard !kinds.isEmpty else { return }
            let length = gap.upperBound - gap.lowerBound
            let taken = min(length, capacityLeft)
            if taken > 0 { pieces.append(Run(pages: gap.lowerBound..<gap.lowerBound + taken, kinds: kinds)) }
            capacityLeft -= taken
            outcome.stored += taken
            outcome.overflowed += length - taken
        }

        if lo < hi, runs[lo].pages.lowerBound < range.lowerBound {
            pieces.append(Run(pages: runs[lo].pages.lowerBound..<range.lowerBound, kinds: runs[lo].kinds))
        }
        var cursor = range.lowerBound
        for run in runs[lo..<hi] {
            let overlap = max(run.pages.lowerBound, range.lowerBound)..<min(run.pages.upperBound, range.upperBound)
            fillGap(cursor..<overlap.lowerBound)
            let kinds = transform(run.kinds)
            if kinds.isEmpty {
                outcome.cancelled += overlap.upperBound - overlap.lowerBound
            } else {
                pieces.append(Run(pages: overlap, kinds: kinds))
            }
            cursor = overlap.upperBound
        }
        fillGap(cursor..<range.upperBound)
        if lo < hi, runs[hi - 1].pages.upperBound > range.upperBound {
            pieces.append(Run(pages: range.upperBound..<runs[hi - 1].pages.upperBound, kinds: runs[hi - 1].kinds))
        }

        pageCount = pageCount + outcome.stored - outcome.cancelled
        // Replace the touched runs and their two neighbours, coalescing across the seams.
        let from = max(lo - 1, 0)
        let to = min(hi + 1, runs.count)
        var merged: [Run] = []
        merged.reserveCapacity(pieces.count + 2)
        if from < lo { append(runs[from], to: &merged) }
        for piece in pieces { append(piece, to: &merged) }
        if hi < to { append(runs[hi], to: &merged) }
        runs.replaceSubrange(from..<to, with: merged)
        return outcome
    }

    /// Removes the first `count` runs (the lowest pages); the caller has read them from `runs`.
    mutating func removeFirst(_ count: Int) {
        for run in runs.prefix(count) { pageCount -= run.count }
        runs.removeFirst(count)
    }

    /// Puts runs back in front: they must lie below every run present and not touch one of equal kinds.
    mutating func prepend(_ front: [Run]) {
        guard !front.isEmpty else { return }
        runs.insert(contentsOf: front, at: 0)
        pageCount += front.reduce(0) { $0 + $1.count }
    }

    private func append(_ run: Run, to list: inout [Run]) {
        if let last = list.last, last.pages.upperBound == run.pages.lowerBound, last.kinds == run.kinds {
            list[list.count - 1].pages = last.pages.lowerBound..<run.pages.upperBound
        } else {
            list.append(run)
        }
    }

    /// Binary search for the first run satisfying a predicate that is false then true along `runs`.
    private func firstIndex(where predicate: (Run) -> Bool) -> Int {
        var low = 0
        var high = runs.count
        while low < high {
            let middle = (low + high) / 2
            if predicate(runs[middle]) { high = middle } else { low = middle + 1 }
        }
        return low
    }
}

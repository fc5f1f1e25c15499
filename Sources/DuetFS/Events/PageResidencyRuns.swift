import Glibc

/// Which pages of a byte range of a file are in the page cache now: `mincore(2)` over a shared
/// read-only mapping of the range (root or the file's owner; reference §1.7), for a task that
/// asks about the range it is about to read (the send). Each file's page cache is its own: a
/// snapshot's inode and the live inode it was taken from are asked separately.
extension PageResidency {
    /// Runs of `range` (clipped to page boundaries outward) whose pages are all resident or all
    /// absent, in order: `(range, resident)`. A file that cannot be mapped counts as absent.
    public static func runs(descriptor: Int32, range: Range<UInt64>) -> [(Range<UInt64>, Bool)] {
        guard !range.isEmpty else { return [] }
        let start = range.lowerBound / pageSize * pageSize
        let end = (range.upperBound + pageSize - 1) / pageSize * pageSize
        let length = Int(end - start)
        let pages = length / Int(pageSize)
        // One cachestat(2) settles the common cases, none or all cached (a million-file send
        // asks once per file): three calls fewer than mapping the range for mincore.
        // A failed cachestat only loses the shortcut: mincore below answers.
        if let counters = try? cachestat(descriptor, offset: start, length: UInt64(length), subject: "") {
            if counters.cached == 0 { return [(range, false)] }
            if counters.cached >= UInt64(pages) { return [(range, true)] }
        }
        guard let map = mmap(nil, length, PROT_READ, MAP_SHARED, descriptor, off_t(start)), map != MAP_FAILED else {
            return [(range, false)]
        }
        defer { munmap(map, length) }
        var vector = [UInt8](repeating: 0, count: pages)
        guard mincore(map, length, &vector) == 0 else { return [(range, false)] }
        var result: [(Range<UInt64>, Bool)] = []
        var runStart = range.lowerBound
        var current = vector[0] & 1 == 1
        for page in 1..<max(pages, 1) where page < pages {
            let resident = vector[page] & 1 == 1
            if resident != current {
                let boundary = start + UInt64(page) * pageSize
                result.append((runStart..<boundary, current))
                runStart = boundary
                current = resident
            }
        }
        result.append((runStart..<range.upperBound, current))
        return result
    }

    /// Whether every page of `range` is resident.
    public static func isResident(descriptor: Int32, range: Range<UInt64>) -> Bool {
        runs(descriptor: descriptor, range: range).allSatisfy { $0.1 }
    }
}

/// Finds the pages already cached in a scope when a task registers, so the task also learns about
/// data cached before it started (the original scanned the superblock's inodes; we sweep the scope's
/// files with cachestat). The cachestat sweep implements it; tests use `RecordedPageScan`.
public protocol CachedPageScanner: Sendable {
    /// Reports what is cached now in `scope` as `.added` events (and `.dirtied` for pages that are
    /// dirty), in batches of any size, on the caller's thread, before returning.
    func scanCachedPages(in scope: HubScope, deliver: ([CacheEvent]) -> Void) throws
}

/// A scan that reports a fixed list of events: for tests, and for replaying a recorded trace.
public struct RecordedPageScan: CachedPageScanner {
    public var events: [CacheEvent]

    public init(_ events: some Sequence<CacheEvent>) { self.events = Array(events) }

    public func scanCachedPages(in scope: HubScope, deliver: ([CacheEvent]) -> Void) throws {
        deliver(events)
    }
}

/// Per-task settings that have sensible defaults.
public struct HubTaskOptions: Sendable {
    /// A name for logs and status output.
    public var name: String
    /// The most pages a task may have pending between fetches. Pages past it are counted in
    /// `HubTaskStatistics.pagesOverflowed` and reported once by `HubTask.takeOverflow()`, so a task
    /// knows to rescan instead of trusting that it heard everything. The default, 2^20 pages, is
    /// 4 GiB of cached data; memory is per run of pages, at most about 40 bytes per page when no
    /// two pending pages are adjacent.
    public var pendingPageLimit: UInt64
    /// Kinds delivered even for work marked done, e.g. `.extentWritten` or `.dirtied` so that a task
    /// can unmark work that changed after it was done (the original scrub unset done on DIRTY).
    public var deliverEvenIfDone: CacheEventKinds

    public init(name: String = "task", pendingPageLimit: UInt64 = 1 << 20, deliverEvenIfDone: CacheEventKinds = []) {
        self.name = name
        self.pendingPageLimit = pendingPageLimit
        self.deliverEvenIfDone = deliverEvenIfDone
    }
}

/// Counters a task can read at any time. Losses are never silent: every page the hub did not keep
/// for the task is counted here under the reason.
public struct HubTaskStatistics: Sendable, Equatable {
    /// Events in scope and in the event mask.
    public var eventsAccepted: UInt64 = 0
    /// Pages dropped because their work was done (at ingest and at fetch).
    public var pagesFilteredDone: UInt64 = 0
    /// Pages whose pending changes cancelled out (state-based model).
    public var pagesCancelled: UInt64 = 0
    /// Pages lost because the pending limit was reached.
    public var pagesOverflowed: UInt64 = 0
    public var itemsFetched: UInt64 = 0
    public var pagesFetched: UInt64 = 0
    /// Pages pending now, and the runs (the memory) holding them.
    public var pendingPages: UInt64 = 0
    public var pendingRuns: Int = 0

    public init() {}
}

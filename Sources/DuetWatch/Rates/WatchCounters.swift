import DuetFS

/// The running totals of one file system's watcher that its rates are computed from.
public struct WatchCounters: Sendable, Equatable {
    /// Records the source delivered (the eBPF source merges runs of pages into one).
    public var delivered: UInt64
    /// Records the source could not deliver.
    public var lost: UInt64
    /// The delivered events counted per page (`CreditorStatistics.pageEvents`).
    public var pageEvents: UInt64

    public init(delivered: UInt64 = 0, lost: UInt64 = 0, pageEvents: UInt64 = 0) {
        self.delivered = delivered
        self.lost = lost
        self.pageEvents = pageEvents
    }

    public init(source: EventSourceStatistics, creditor: CreditorStatistics) {
        self.init(delivered: source.delivered, lost: source.lost, pageEvents: creditor.pageEvents)
    }
}

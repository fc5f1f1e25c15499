/// What happened in one `--log-interval` window of one file system: the periodic log line's numbers.
public struct WatchLogSummary: Sendable, Equatable {
    /// The window's length.
    public var seconds: Double
    /// Records the source delivered in the window.
    public var events: UInt64
    /// The same counted per page.
    public var pageEvents: UInt64
    public var lost: UInt64
    public var creditedBytes: UInt64
    /// Credited since the watcher started.
    public var totalCreditedBytes: UInt64

    public init(seconds: Double, events: UInt64, pageEvents: UInt64, lost: UInt64, creditedBytes: UInt64, totalCreditedBytes: UInt64) {
        self.seconds = seconds
        self.events = events
        self.pageEvents = pageEvents
        self.lost = lost
        self.creditedBytes = creditedBytes
        self.totalCreditedBytes = totalCreditedBytes
    }

    /// Over the whole window.
    public var eventsPerSecond: Double { Double(events) / seconds }
    public var pageEventsPerSecond: Double { Double(pageEvents) / seconds }
}

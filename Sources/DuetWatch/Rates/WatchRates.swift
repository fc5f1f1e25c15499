/// Rates between two ticks of the watcher: what `watch.json` shows, and the losses to warn about.
public struct WatchRates: Sendable, Equatable {
    /// Records per second the source delivered.
    public var eventsPerSecond: Double
    /// The same counted per page.
    public var pageEventsPerSecond: Double
    /// Records lost since the previous tick (logged at once).
    public var lost: UInt64

    /// From the totals at the previous tick to those now, `seconds` apart. Totals only grow.
    public init(from previous: WatchCounters, to current: WatchCounters, seconds: Double) {
        eventsPerSecond = Double(current.delivered - previous.delivered) / seconds
        pageEventsPerSecond = Double(current.pageEvents - previous.pageEvents) / seconds
        lost = current.lost > previous.lost ? current.lost - previous.lost : 0
    }
}

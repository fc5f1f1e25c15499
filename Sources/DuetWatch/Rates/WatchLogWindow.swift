import Foundation

/// The periodic log line of one file system: rates over the whole `--log-interval` window, and
/// nothing for a window in which no event arrived and nothing was credited or lost, so an idle
/// file system stays quiet in the journal.
public struct WatchLogWindow: Sendable {
    public var start: Date
    public var delivered: UInt64 = 0
    public var pageEvents: UInt64 = 0
    public var credited: UInt64 = 0
    public var lost: UInt64 = 0

    public init(start: Date, delivered: UInt64 = 0, pageEvents: UInt64 = 0, credited: UInt64 = 0, lost: UInt64 = 0) {
        self.start = start
        self.delivered = delivered
        self.pageEvents = pageEvents
        self.credited = credited
        self.lost = lost
    }

    /// What to log now, if the window is over and something happened in it; starts the next.
    public mutating func summary(for report: WatchReport, at now: Date, interval: Double) -> WatchLogSummary? {
        let seconds = now.timeIntervalSince(start)
        // Ticks are not exact: a window that is all but over counts as over.
        guard seconds >= interval * 0.99 else { return nil }
        let events = report.eventsDelivered - delivered, pages = report.creditor.pageEvents - pageEvents
        let bytes = report.creditor.bytesCredited - credited, lostNow = report.eventsLost - lost
        defer {
            self = WatchLogWindow(
                start: now, delivered: report.eventsDelivered, pageEvents: report.creditor.pageEvents,
                credited: report.creditor.bytesCredited, lost: report.eventsLost)
        }
        guard events > 0 || bytes > 0 || lostNow > 0 else { return nil }
        return WatchLogSummary(
            seconds: seconds, events: events, pageEvents: pages, lost: lostNow, creditedBytes: bytes,
            totalCreditedBytes: report.creditor.bytesCredited)
    }
}

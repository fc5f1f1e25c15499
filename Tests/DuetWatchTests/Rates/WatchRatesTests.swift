import DuetFS
import DuetWatch
import Foundation
import Testing

/// The watcher's rates: per tick for watch.json, per --log-interval window for the journal.
struct WatchRatesTests {
    @Test("rates between ticks: delivered records and page events per second, losses since the last tick")
    func tickRates() {
        let previous = WatchCounters(delivered: 100, lost: 3, pageEvents: 1000)
        let rates = WatchRates(from: previous, to: WatchCounters(delivered: 150, lost: 5, pageEvents: 1400), seconds: 10)
        #expect(rates.eventsPerSecond == 5 && rates.pageEventsPerSecond == 40 && rates.lost == 2)
        let quiet = WatchRates(from: previous, to: previous, seconds: 10)
        #expect(quiet.eventsPerSecond == 0 && quiet.pageEventsPerSecond == 0 && quiet.lost == 0)
        let first = WatchRates(from: WatchCounters(), to: WatchCounters(delivered: 20, lost: 0, pageEvents: 80), seconds: 4)
        #expect(first.eventsPerSecond == 5 && first.pageEventsPerSecond == 20, "the first tick counts from zero")
    }

    @Test("the counters come from the source's and the creditor's statistics")
    func counters() {
        var source = EventSourceStatistics()
        source.delivered = 7
        source.lost = 1
        var creditor = CreditorStatistics()
        creditor.pageEvents = 70
        #expect(WatchCounters(source: source, creditor: creditor) == WatchCounters(delivered: 7, lost: 1, pageEvents: 70))
    }

    static func report(delivered: UInt64, pages: UInt64, credited: UInt64, lost: UInt64 = 0) -> WatchReport {
        var creditor = CreditorStatistics()
        creditor.pageEvents = pages
        creditor.bytesCredited = credited
        creditor.events = delivered
        return WatchReport(
            mountPath: "/srv", uuid: "f", source: "bpf", pid: 1, updatedAt: Date(), eventsPerSecond: 0, pageEventsPerSecond: 0,
            eventsDelivered: delivered, eventsLost: lost, creditor: creditor, flushFailures: 0)
    }

    @Test("The watcher's periodic line: once per --log-interval, and none for a quiet window")
    func logWindow() throws {
        let start = Date(timeIntervalSince1970: 1_000_000)
        var window = WatchLogWindow(start: start)
        // Within the interval: nothing, however busy.
        #expect(window.summary(for: Self.report(delivered: 10, pages: 100, credited: 4096), at: start + 1800, interval: 3600) == nil)
        // The window is over: rates over its whole length, page events apart.
        let closed = window.summary(for: Self.report(delivered: 3600, pages: 36000, credited: 1 << 20), at: start + 3600, interval: 3600)
        let summary = try #require(closed)
        #expect(
            summary
                == WatchLogSummary(
                    seconds: 3600, events: 3600, pageEvents: 36000, lost: 0, creditedBytes: 1 << 20, totalCreditedBytes: 1 << 20))
        #expect(summary.eventsPerSecond == 1 && summary.pageEventsPerSecond == 10)
        // A quiet hour: nothing.
        #expect(window.summary(for: Self.report(delivered: 3600, pages: 36000, credited: 1 << 20), at: start + 7200, interval: 3600) == nil)
        // Events lost count as something happening.
        #expect(
            window.summary(for: Self.report(delivered: 3600, pages: 36000, credited: 1 << 20, lost: 2), at: start + 10800, interval: 3600)?
                .lost == 2)
    }

    @Test("a window all but over (ticks are not exact) counts as over; credit alone is something happening")
    func almostOver() {
        let start = Date(timeIntervalSince1970: 1_000_000)
        var window = WatchLogWindow(start: start)
        #expect(
            window.summary(for: Self.report(delivered: 0, pages: 0, credited: 4096), at: start + 3565, interval: 3600)?.creditedBytes
                == 4096)
        #expect(window.start == start + 3565, "the next window starts now")
        #expect(
            window.summary(for: Self.report(delivered: 0, pages: 0, credited: 8192), at: start + 3565 + 3500, interval: 3600) == nil,
            "under 99 % of the interval")
    }
}

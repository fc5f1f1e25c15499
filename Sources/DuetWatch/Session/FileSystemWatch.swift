import DuetFS
import Foundation

/// What a session holds for one file system: its ledger, the running watcher, its status file,
/// and the totals and log window its rates are computed from. Used on the session's thread only.
final class FileSystemWatch {
    let mountPath: String
    let fsid: FileSystemID
    let ledger: Ledger
    let watcher: CreditWatcher
    let status: WatchStatusFile
    private var previous = WatchCounters()
    private var window: WatchLogWindow?

    init(mountPath: String, fsid: FileSystemID, ledger: Ledger, watcher: CreditWatcher, status: WatchStatusFile) {
        self.mountPath = mountPath
        self.fsid = fsid
        self.ledger = ledger
        self.watcher = watcher
        self.status = status
    }

    /// The report before the first tick: all rates and counts zero.
    func writeInitialReport() {
        status.write(
            WatchReport(
                mountPath: mountPath, uuid: fsid.description, source: watcher.source.name, pid: getpid(), updatedAt: Date(),
                eventsPerSecond: 0, pageEventsPerSecond: 0, eventsDelivered: 0, eventsLost: 0,
                creditor: watcher.creditor.statistics, flushFailures: 0))
    }

    /// Reads the counters, writes `watch.json` and moves the log window on.
    func tick(now: Date, elapsed: Double, logInterval: Double) -> WatchTick {
        let statistics = watcher.source.statistics
        let creditor = watcher.creditor.statistics
        let counters = WatchCounters(source: statistics, creditor: creditor)
        let rates = WatchRates(from: previous, to: counters, seconds: elapsed)
        previous = counters
        let report = WatchReport(
            mountPath: mountPath, uuid: fsid.description, source: watcher.source.name, pid: getpid(), updatedAt: now,
            eventsPerSecond: rates.eventsPerSecond, pageEventsPerSecond: rates.pageEventsPerSecond,
            eventsDelivered: statistics.delivered, eventsLost: statistics.lost, creditor: creditor,
            flushFailures: watcher.flushFailures.count)
        status.write(report)
        // The first window starts at the previous tick, when watching began.
        var window = self.window ?? WatchLogWindow(start: now.addingTimeInterval(-elapsed))
        let summary = window.summary(for: report, at: now, interval: logInterval)
        self.window = window
        return WatchTick(mountPath: mountPath, report: report, elapsedSeconds: elapsed, rates: rates, logSummary: summary)
    }

    /// Stops the watcher (final settle and flush) and removes `watch.json`, so `duet status`
    /// shows no watcher. Returns why the final flush failed, if it did: the credits settled last
    /// are lost, which the operator should hear of (no status file is left to show it).
    func stop() -> String? {
        let before = watcher.flushFailures.count
        watcher.stop()
        status.remove()
        let after = watcher.flushFailures
        guard after.count > before else { return nil }
        return "\(mountPath): the last ledger flush failed (\(after.last ?? "unknown error")): the credits settled at stop are lost"
    }
}

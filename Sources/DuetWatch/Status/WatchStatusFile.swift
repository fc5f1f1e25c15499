import DuetFS
import Foundation

/// `watch.json` beside the ledger: lets `duet status` tell whether a watcher runs, and its rates.
public struct WatchStatusFile: Sendable {
    public let directory: String
    public var path: String { directory + "/watch.json" }

    public init(directory: String) {
        self.directory = directory
    }

    /// Replaces the file atomically; a failure is ignored (the next tick writes it again).
    public func write(_ report: WatchReport) {
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .iso8601
        // The file is advisory and rewritten every tick: a failed write costs `duet status` one tick's
        // figures, never the watcher its credits.
        guard let data = try? encoder.encode(report) else { return }
        try? AtomicFile.write(data, to: path)
    }

    /// The report, and the writer's identity even when the report is from another version of
    /// duet (a watcher started before an upgrade keeps running: it must not look stopped).
    public func read() -> (report: WatchReport?, identity: WatcherIdentity?) {
        // No file and an unreadable one both mean: no watcher to show.
        guard let data = try? AtomicFile.read(path) else { return (nil, nil) }
        return Self.decode(data)
    }

    /// `read` on the file's bytes.
    public static func decode(_ data: Data) -> (report: WatchReport?, identity: WatcherIdentity?) {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        // Another version's file may not decode whole; its identity alone tells that a watcher runs.
        let report = try? decoder.decode(WatchReport.self, from: data)
        return (
            report,
            report.map { WatcherIdentity(pid: $0.pid, source: $0.source) } ?? (try? decoder.decode(WatcherIdentity.self, from: data))
        )
    }

    /// Whether a watcher runs for this directory, with its last report (`WatcherState`).
    public func watcher(now: Date = Date()) -> WatcherState {
        WatcherState(read(), now: now, isWatcher: WatcherProcess.isWatcher(pid:))
    }

    // Gone already is what removing wants.
    public func remove() { try? FileManager.default.removeItem(atPath: path) }
}

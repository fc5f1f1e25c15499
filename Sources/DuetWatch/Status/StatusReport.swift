import DuetFS
import Foundation

/// `duet status` of one file system: what is cached per subvolume, how much the ledger credits
/// by age, the last complete scrub, and whether a watcher runs (fields: README, "JSON reference").
public struct StatusReport: Codable, Sendable {
    /// The file system's UUID (its fsid, as `btrfs filesystem show` prints it).
    public var uuid: String
    public var mountPath: String
    public var cached: [CachedSubvolume]
    public var ledgerCoverage: [LedgerCoverage]
    public var lastCompleteScrubAt: Date?
    public var lastCompleteScrubAgeSeconds: Double?
    public var watcher: WatchReport?
    public var watcherRunning: Bool
    /// Who wrote `watch.json`, whatever duet's version: names a running watcher whose report
    /// this version cannot read. Not part of the JSON.
    public var watcherIdentity: WatcherIdentity?

    enum CodingKeys: String, CodingKey {
        case uuid, mountPath, cached, ledgerCoverage, lastCompleteScrubAt, lastCompleteScrubAgeSeconds, watcher, watcherRunning
    }

    /// Gathers the report. The ledger in `ledgerDirectory` is opened read-only, so a running
    /// watcher keeps its lock; none there (or one that does not open) shows no coverage.
    public init(fileSystem uuid: FileSystemID, mountPath: String, ledgerDirectory: String) throws {
        let device = try MountTable.current().btrfsEntry(containing: mountPath).kernelDevice
        cached = try CachedSubvolume.sweep(mount: mountPath, device: device)
        ledgerCoverage = []
        lastCompleteScrubAt = nil
        // An unreadable ledger shows no coverage: status reports, and `duet scrub` warns about a damaged one.
        if FileManager.default.fileExists(atPath: ledgerDirectory),
            let ledger = try? Ledger.open(fileSystem: uuid, directory: ledgerDirectory, options: LedgerOptions(readOnly: true))
        {
            ledgerCoverage = LedgerCoverage.byAge(of: ledger, now: Date())
            // Only a scrub completes a pass today; the JSON has always called it one.
            lastCompleteScrubAt = ledger.lastCompletePass.map { Date(timeIntervalSince1970: TimeInterval($0)) }
        }
        let now = Date()
        let state = WatchStatusFile(directory: ledgerDirectory).watcher(now: now)
        self.uuid = uuid.description
        self.mountPath = mountPath
        lastCompleteScrubAgeSeconds = lastCompleteScrubAt.map { max(0, now.timeIntervalSince($0)) }
        watcher = state.report
        watcherRunning = state.running
        watcherIdentity = state.identity
    }
}

import DuetFS
import Foundation

/// What a running watcher reports, in `<state dir>/watch.json` and with `duet watch --json`.
public struct WatchReport: Codable, Sendable {
    public var mountPath: String
    /// The file system's UUID (its fsid, as `btrfs filesystem show` prints it).
    public var uuid: String
    public var source: String
    public var pid: Int32
    public var updatedAt: Date
    /// Only in `duet status`: seconds since `updatedAt` when it read the report (over 10 s, or the
    /// `--log-interval` if shorter, means the watcher is stuck or gone).
    public var ageSeconds: Double?
    /// Records per second as the source delivered them (the eBPF source merges runs of pages).
    public var eventsPerSecond: Double
    /// The same counted per page (`CreditorStatistics.pageEvents`).
    public var pageEventsPerSecond: Double
    public var eventsDelivered: UInt64
    public var eventsLost: UInt64
    public var creditor: CreditorStatistics
    public var flushFailures: UInt64

    public init(
        mountPath: String, uuid: String, source: String, pid: Int32, updatedAt: Date, eventsPerSecond: Double, pageEventsPerSecond: Double,
        eventsDelivered: UInt64, eventsLost: UInt64, creditor: CreditorStatistics, flushFailures: UInt64
    ) {
        self.mountPath = mountPath
        self.uuid = uuid
        self.source = source
        self.pid = pid
        self.updatedAt = updatedAt
        self.eventsPerSecond = eventsPerSecond
        self.pageEventsPerSecond = pageEventsPerSecond
        self.eventsDelivered = eventsDelivered
        self.eventsLost = eventsLost
        self.creditor = creditor
        self.flushFailures = flushFailures
    }
}

/// One file system at one tick of the session: the report just written to its `watch.json`, the
/// rates since the previous tick, and, when a `--log-interval` window closed with something in it,
/// that window's summary.
public struct WatchTick: Sendable {
    public var mountPath: String
    public var report: WatchReport
    /// Seconds since the previous tick (or since the session started watching).
    public var elapsedSeconds: Double
    public var rates: WatchRates
    /// Nil inside a window, and for a window in which nothing happened.
    public var logSummary: WatchLogSummary?
}

/// What every version of the watcher has written to `watch.json`: enough to tell whether one runs.
public struct WatcherIdentity: Codable, Sendable, Equatable {
    public var pid: Int32
    public var source: String?

    public init(pid: Int32, source: String?) {
        self.pid = pid
        self.source = source
    }
}

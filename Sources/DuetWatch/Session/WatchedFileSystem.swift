import DuetFS

/// A file system a session has started watching, as the command reports it.
public struct WatchedFileSystem: Sendable {
    public var mountPath: String
    public var fsid: FileSystemID
    /// Where its ledger and `watch.json` live.
    public var stateDirectory: String
    /// The event source that started (`EventSource.name`: `kernel`, `ebpf`, `cachestat-poll`).
    public var source: String
}

import Foundation

/// Whether a pid named in `watch.json` is still a running `duet watch`: a watcher killed with -9
/// leaves its file behind, and its pid may since belong to another process.
public enum WatcherProcess {
    /// The process exists and its command line has a `watch` argument.
    public static func isWatcher(pid: Int32) -> Bool {
        guard kill(pid, 0) == 0, let data = FileManager.default.contents(atPath: "/proc/\(pid)/cmdline") else { return false }
        return isWatchCommandLine(data)
    }

    /// `/proc/<pid>/cmdline` (NUL-separated arguments) has an argument that is exactly `watch`.
    public static func isWatchCommandLine(_ data: Data) -> Bool {
        data.split(separator: 0).contains { String(decoding: $0, as: UTF8.self) == "watch" }
    }
}

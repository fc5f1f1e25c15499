import Foundation

/// What `duet status` says about the watcher of one state directory, from its `watch.json`.
///
/// The rules: a watcher runs when the file names a pid (in a report of this version, or in the
/// identity every version writes) that is a running `duet watch`. Its report is shown only while
/// it runs and only when this version can read it, with `ageSeconds` (never negative) added.
public struct WatcherState: Sendable {
    /// The running watcher's last report, with `ageSeconds`; nil when none runs or when it is
    /// another version of duet.
    public var report: WatchReport?
    /// Who wrote the file, whatever its version (nil: no file, or not one a watcher wrote).
    public var identity: WatcherIdentity?
    public var running: Bool

    /// `read`: what `WatchStatusFile.read` returned; `isWatcher` tells whether a pid is a running watcher.
    public init(_ read: (report: WatchReport?, identity: WatcherIdentity?), now: Date, isWatcher: (Int32) -> Bool) {
        identity = read.identity
        running = read.identity.map { isWatcher($0.pid) } ?? false
        report = running ? read.report : nil
        if let updatedAt = report?.updatedAt { report?.ageSeconds = max(0, now.timeIntervalSince(updatedAt)) }
    }
}

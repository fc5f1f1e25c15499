import Foundation
import Synchronization

/// `--idle` of `duet scrub` and `duet send`: whether a device serves foreground I/O, measured
/// from the block device's counters (`/sys/class/block/<dev>/stat`): sectors read and written
/// beyond what the task's own reads account for. The rate is taken over a window of at least
/// `window` seconds: a task asks before every read, often a millisecond apart, and a rate over so
/// short an interval is nearly always zero, so it would never wait.
public final class IdleMonitor: Sendable {
    /// Per device: the sample that opens the current window, and the verdict of the last full one.
    private struct Windows {
        var base: [String: (foreign: UInt64, time: Date)] = [:]
        var busyInLastWindow: [String: Bool] = [:]
    }
    private let windows = Mutex(Windows())
    /// Foreground bytes per second above which the device counts as busy.
    public let busyThreshold: Double = 1_048_576
    /// Seconds over which foreground I/O is measured.
    public let window: TimeInterval = 0.25
    /// At most this long `waitWhileBusy` waits before one read, so a device that is never idle
    /// still sees the task progress, one read per wait.
    public static let maximumWait: TimeInterval = 60

    public init() {}

    /// The kernel's name of the block device (`/dev/mapper/x` and `/dev/disk/by-*` are symlinks).
    static func statName(_ device: String) -> String {
        URL(fileURLWithPath: device).resolvingSymlinksInPath().lastPathComponent
    }

    /// Sectors read + written so far on the device, in bytes. `/sys/class/block` also lists
    /// partitions, which `/sys/block` does not (there `--idle` silently did nothing).
    public static func deviceBytes(_ device: String) -> UInt64? {
        // A device without a stat file (nil) is never waited for: --idle can slow a scrub, not stop it.
        guard let text = try? String(contentsOfFile: "/sys/class/block/\(statName(device))/stat", encoding: .utf8) else { return nil }
        let fields = text.split(separator: " ").compactMap { UInt64($0) }
        guard fields.count >= 7 else { return nil }
        return (fields[2] + fields[6]) * 512
    }

    /// Bytes this process has had read from storage (`read_bytes` of `/proc/self/io`), readahead
    /// it caused included: the own I/O of a task that reads through the page cache.
    public static func processReadBytes() -> UInt64 {
        // Without /proc/self/io all of the device's I/O looks foreign: the task waits longer, no more.
        guard let text = try? String(contentsOfFile: "/proc/self/io", encoding: .utf8) else { return 0 }
        for line in text.split(separator: "\n") where line.hasPrefix("read_bytes:") {
            return UInt64(line.dropFirst("read_bytes:".count).trimmingCharacters(in: .whitespaces)) ?? 0
        }
        return 0
    }

    /// Whether `device` served more than `busyThreshold` of others' I/O over the last window.
    /// `ownBytes` returns what the task's own reads have *completed* so far (the device counts a
    /// read when it completes); it is asked again at every sample, because reads in flight
    /// complete meanwhile. (Counting issued bytes once, before a wait, took the task's own
    /// completing reads for foreground I/O, and a wrapping subtraction made every new issue look
    /// like a burst: the scrub crawled on an idle device.) A device without counters is idle; one
    /// not measured over a whole window yet is busy: a task that asks before every read would
    /// otherwise issue a burst of them (up to its whole in-flight bound) before the first verdict.
    public func isBusy(device: String, ownBytes: () -> UInt64) -> Bool {
        guard let total = Self.deviceBytes(device) else { return false }
        let own = ownBytes()
        let foreign = total > own ? total - own : 0
        let now = Date()
        return windows.withLock { windows in
            guard let opened = windows.base[device] else {
                windows.base[device] = (foreign, now)
                return true
            }
            let grown = Double(foreign > opened.foreign ? foreign - opened.foreign : 0)
            let age = now.timeIntervalSince(opened.time)
            if age >= window {
                let busy = grown / age >= busyThreshold
                windows.busyInLastWindow[device] = busy
                windows.base[device] = (foreign, now)
                return busy
            }
            // Inside a window: busy if the last full window was, or if this one already holds more
            // foreground bytes than a whole window may.
            return (windows.busyInLastWindow[device] ?? true) || grown >= busyThreshold * window
        }
    }

    /// Waits while `device` is busy, at most `limit` (and never more than `maximumWait`); returns
    /// the seconds it waited.
    @discardableResult
    public func waitWhileBusy(
        device: String, atMost limit: TimeInterval = maximumWait, ownBytes: () -> UInt64,
        cancelled: () -> Bool
    ) -> TimeInterval {
        let start = Date()
        let deadline = start.addingTimeInterval(min(limit, Self.maximumWait))
        while isBusy(device: device, ownBytes: ownBytes), !cancelled(), Date() < deadline {
            Thread.sleep(forTimeInterval: 0.1)
        }
        return Date().timeIntervalSince(start)
    }
}

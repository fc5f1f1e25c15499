import Foundation

/// A token bucket over bytes read (`--limit`), shared by all device readers.
final class Throttle: @unchecked Sendable {
    private let bytesPerSecond: Double
    private let lock = NSLock()
    private var available: Double
    private var last = Date()

    init(bytesPerSecond: UInt64) {
        self.bytesPerSecond = Double(bytesPerSecond)
        available = Double(bytesPerSecond) / 10
    }

    /// Blocks until `bytes` may be read.
    func consume(_ bytes: UInt64) {
        lock.lock()
        let now = Date()
        available = min(bytesPerSecond, available + now.timeIntervalSince(last) * bytesPerSecond)
        last = now
        available -= Double(bytes)
        let debt = -available
        lock.unlock()
        if debt > 0 { Thread.sleep(forTimeInterval: debt / bytesPerSecond) }
    }
}

/// `--idle`: waits while a device serves foreground I/O, measured from the block device's
/// counters (`/sys/class/block/<dev>/stat`): sectors read and written beyond what the scrub's own
/// reads account for. The rate is taken over a window of at least `window` seconds: the scrub
/// asks before every read, often a millisecond apart, and a rate over so short an interval is
/// nearly always zero, so the scrub would never wait.
final class IdleMonitor: @unchecked Sendable {
    private let lock = NSLock()
    /// Per device: the sample that opens the current window, and the verdict of the last full one.
    private var base: [String: (foreign: UInt64, time: Date)] = [:]
    private var busyInLastWindow: [String: Bool] = [:]
    /// Foreground bytes per second above which the scrub waits.
    let busyThreshold: Double = 1_048_576
    /// Seconds over which foreground I/O is measured.
    let window: TimeInterval = 0.25

    /// The kernel's name of the block device (`/dev/mapper/x` and `/dev/disk/by-*` are symlinks).
    static func statName(_ device: String) -> String {
        URL(fileURLWithPath: device).resolvingSymlinksInPath().lastPathComponent
    }

    /// Sectors read + written so far on the device, in bytes. `/sys/class/block` also lists
    /// partitions, which `/sys/block` does not (there `--idle` silently did nothing).
    static func deviceBytes(_ device: String) -> UInt64? {
        guard let text = try? String(contentsOfFile: "/sys/class/block/\(statName(device))/stat", encoding: .utf8) else { return nil }
        let fields = text.split(separator: " ").compactMap { UInt64($0) }
        guard fields.count >= 7 else { return nil }
        return (fields[2] + fields[6]) * 512
    }

    /// `ownBytes` returns what the scrub's own reads have *completed* so far (the device counts a
    /// read when it completes); it is asked again at every sample, because the scrub's reads in
    /// flight complete while it waits here. (Counting issued bytes once, before the wait, took the
    /// scrub's own completing reads for foreground I/O, and a wrapping subtraction made every new
    /// issue look like a burst: the scrub crawled on an idle device.)
    func waitWhileBusy(device: String, ownBytes: () -> UInt64, cancelled: () -> Bool) {
        for _ in 0..<600 {
            guard let total = Self.deviceBytes(device) else { return }
            let own = ownBytes()
            let foreign = total > own ? total - own : 0
            let now = Date()
            lock.lock()
            guard let opened = base[device] else {
                base[device] = (foreign, now)
                lock.unlock()
                return
            }
            let grown = Double(foreign > opened.foreign ? foreign - opened.foreign : 0)
            let age = now.timeIntervalSince(opened.time)
            let busy: Bool
            if age >= window {
                busy = grown / age >= busyThreshold
                busyInLastWindow[device] = busy
                base[device] = (foreign, now)
            } else {
                // Inside a window: busy if the last full window was, or if this one already holds
                // more foreground bytes than a whole window may.
                busy = (busyInLastWindow[device] ?? false) || grown >= busyThreshold * window
            }
            lock.unlock()
            if !busy || cancelled() { return }
            Thread.sleep(forTimeInterval: 0.1)
        }
    }
}

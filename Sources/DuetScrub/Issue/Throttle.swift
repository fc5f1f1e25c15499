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
/// counters (`/sys/block/<dev>/stat`): sectors read and written beyond what the scrub itself read.
final class IdleMonitor: @unchecked Sendable {
    private let lock = NSLock()
    private var last: [String: (foreign: UInt64, time: Date)] = [:]
    /// Foreground bytes per second above which the scrub waits.
    let busyThreshold: Double = 1_048_576

    static func statName(_ device: String) -> String { (device as NSString).lastPathComponent }

    /// Sectors read + written so far on the device, in bytes.
    static func deviceBytes(_ device: String) -> UInt64? {
        guard let text = try? String(contentsOfFile: "/sys/block/\(statName(device))/stat", encoding: .utf8) else { return nil }
        let fields = text.split(separator: " ").compactMap { UInt64($0) }
        guard fields.count >= 7 else { return nil }
        return (fields[2] + fields[6]) * 512
    }

    func waitWhileBusy(device: String, ownBytes: UInt64, cancelled: () -> Bool) {
        for _ in 0..<600 {
            guard let total = Self.deviceBytes(device) else { return }
            let foreign = total > ownBytes ? total - ownBytes : 0
            let now = Date()
            lock.lock()
            let previous = last[device]
            last[device] = (foreign, now)
            lock.unlock()
            guard let previous else { return }
            let elapsed = now.timeIntervalSince(previous.time)
            guard elapsed > 0 else { return }
            let rate = Double(foreign &- previous.foreign) / elapsed
            if rate < busyThreshold || cancelled() { return }
            Thread.sleep(forTimeInterval: 0.1)
        }
    }
}

import Foundation

/// A token bucket over bytes read (`--limit`), shared by all device readers.
final class Throttle: @unchecked Sendable {
    private let bytesPerSecond: Double
    private let lock = NSLock()
    private var available: Double
    private var last = Date()
    /// The longest single sleep: a wait at any rate ends within this long of a cancel.
    static let slice: TimeInterval = 0.1

    init(bytesPerSecond: UInt64) {
        self.bytesPerSecond = Double(bytesPerSecond)
        available = Double(bytesPerSecond) / 10
    }

    /// Blocks until `bytes` may be read, or until `stop` says to give up (then returns false).
    /// At `--limit 1K` one 4 MiB read waits over an hour, so it waits in slices and asks between.
    func consume(_ bytes: UInt64, stop: () -> Bool = { false }) -> Bool {
        let wait = debit(bytes)
        let until = Date().addingTimeInterval(wait)
        while true {
            if stop() { return false }
            let left = until.timeIntervalSinceNow
            if left <= 0 { return true }
            Thread.sleep(forTimeInterval: min(left, Self.slice))
        }
    }

    /// Takes `bytes` from the bucket; returns how long the caller must wait for them.
    func debit(_ bytes: UInt64) -> TimeInterval {
        lock.lock()
        defer { lock.unlock() }
        let now = Date()
        available = min(bytesPerSecond, available + now.timeIntervalSince(last) * bytesPerSecond)
        last = now
        available -= Double(bytes)
        return available < 0 ? -available / bytesPerSecond : 0
    }
}

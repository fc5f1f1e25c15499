import Foundation
import Synchronization

/// A token bucket over bytes read (`--limit`), shared by all device readers.
final class Throttle: Sendable {
    private let bytesPerSecond: Double
    private let bucket: Mutex<(available: Double, last: Date)>
    /// The longest single sleep: a wait at any rate ends within this long of a cancel.
    static let slice: TimeInterval = 0.1

    init(bytesPerSecond: UInt64) {
        self.bytesPerSecond = Double(bytesPerSecond)
        bucket = Mutex((Double(bytesPerSecond) / 10, Date()))
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
        bucket.withLock { bucket in
            let now = Date()
            bucket.available = min(bytesPerSecond, bucket.available + now.timeIntervalSince(bucket.last) * bytesPerSecond)
            bucket.last = now
            bucket.available -= Double(bytes)
            return bucket.available < 0 ? -bucket.available / bytesPerSecond : 0
        }
    }
}

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

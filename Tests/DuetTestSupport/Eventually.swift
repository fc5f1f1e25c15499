import Foundation

/// How tests wait for something to happen: by polling the condition that shows it happened, with
/// a generous timeout, never by sleeping a fixed time and hoping. A loaded machine then only makes
/// a test slower, not wrong, and an idle one does not wait longer than it must.
public enum Eventually {
    /// A condition that did not hold in time; `what` names what did not happen.
    public struct TimedOut: Error, CustomStringConvertible {
        public let what: String
        public let seconds: Double
        public var description: String { "timed out after \(seconds) s waiting for \(what)" }
    }

    /// Checks `condition` at once, then every `interval` seconds, until it holds (true) or
    /// `timeout` seconds have passed and a last check failed (false). For callers that assert with
    /// a message of their own or that go on either way; `wait` throws instead.
    @discardableResult
    public static func poll(timeout: Double, every interval: Double = 0.05, _ condition: () throws -> Bool) rethrows -> Bool {
        let deadline = ContinuousClock.now + .milliseconds(Int64(timeout * 1000))
        while true {
            if try condition() { return true }
            if ContinuousClock.now >= deadline { return false }
            usleep(UInt32(max(interval, 0.001) * 1_000_000))
        }
    }

    /// Waits until `condition` holds, checking every `interval` seconds; throws `TimedOut` naming
    /// `what` (phrased to follow "waiting for", e.g. "duet watch to write watch.json") when it
    /// still does not hold after `timeout` seconds.
    public static func wait(
        timeout: Double = 30, every interval: Double = 0.05, what: @autoclosure () -> String,
        _ condition: () throws -> Bool
    ) throws {
        guard try poll(timeout: timeout, every: interval, condition) else { throw TimedOut(what: what(), seconds: timeout) }
    }
}

import Dispatch

/// How a watch session is asked to stop: `request()` from any thread (a signal handler's queue),
/// seen by the session's next wait. Made before the session so a stop during start-up is not lost.
public final class WatchStopRequest: Sendable {
    private let semaphore = DispatchSemaphore(value: 0)

    public init() {}

    public func request() { semaphore.signal() }

    /// Waits up to `seconds`; true when a stop was requested (before or during the wait).
    func wait(seconds: Double) -> Bool {
        semaphore.wait(timeout: .now() + seconds) == .success
    }
}

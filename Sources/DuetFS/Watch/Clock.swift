import Glibc
import Synchronization

/// Time as the creditor and the polling and replay sources see it, injectable for tests.
public protocol DuetClock: Sendable {
    /// Seconds on a monotonic clock (`CLOCK_MONOTONIC`): for windows and pacing.
    func monotonicSeconds() -> Double
    /// Seconds since the Unix epoch (`CLOCK_REALTIME`): what the ledger records.
    func wallSeconds() -> UInt64
}

/// The system clocks.
public struct SystemClock: DuetClock {
    public init() {}

    public func monotonicSeconds() -> Double { Double(Self.monotonicNanoseconds()) / 1e9 }

    public func wallSeconds() -> UInt64 {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        return UInt64(now.tv_sec)
    }

    public static func monotonicNanoseconds() -> UInt64 {
        var now = timespec()
        clock_gettime(CLOCK_MONOTONIC, &now)
        return UInt64(now.tv_sec) * 1_000_000_000 + UInt64(now.tv_nsec)
    }
}

/// A clock that moves only when told: for unit tests of windows and pacing.
public final class ManualClock: DuetClock {
    private let now: Mutex<(monotonic: Double, wall: UInt64)>

    public init(monotonic: Double = 1000, wall: UInt64 = 1_700_000_000) {
        now = Mutex((monotonic, wall))
    }

    public func monotonicSeconds() -> Double { now.withLock { $0.monotonic } }
    public func wallSeconds() -> UInt64 { now.withLock { $0.wall } }

    /// Moves both clocks forward by `seconds`.
    public func advance(_ seconds: Double) {
        now.withLock { now in
            now.monotonic += seconds
            now.wall += UInt64(seconds.rounded(.down))
        }
    }
}

/// A pthread running `body` until it returns; `join` waits for it. Sources use it for their own
/// delivery thread (DuetFS does not depend on Foundation).
final class BackgroundThread: @unchecked Sendable {
    // @unchecked: `thread` is written once by `start` before any other thread can see it.
    private var thread = pthread_t()
    private let body: @Sendable () -> Void

    private init(body: @escaping @Sendable () -> Void) {
        self.body = body
    }

    static func start(name: String, _ body: @escaping @Sendable () -> Void) throws -> BackgroundThread {
        let runner = BackgroundThread(body: body)
        let context = Unmanaged.passRetained(runner).toOpaque()
        let rc = pthread_create(
            &runner.thread, nil,
            { context in
                let runner = Unmanaged<BackgroundThread>.fromOpaque(context!).takeRetainedValue()
                runner.body()
                return nil
            }, context)
        guard rc == 0 else {
            Unmanaged<BackgroundThread>.fromOpaque(context).release()
            throw DuetError(.system(errno: rc), "cannot start the \(name) thread: \(String(cString: strerror(rc)))")
        }
        return runner
    }

    func join() {
        pthread_join(thread, nil)
    }

    var isCurrent: Bool { pthread_equal(pthread_self(), thread) != 0 }
}

/// Sleeps up to `seconds` on the monotonic clock, waking early when `stop` turns true (checked
/// every 10 ms).
func sleep(seconds: Double, unless stop: borrowing Atomic<Bool>) {
    var remaining = seconds
    while remaining > 0, !stop.load(ordering: .acquiring) {
        let slice = min(remaining, 0.01)
        var request = timespec(tv_sec: Int(slice), tv_nsec: Int((slice - Double(Int(slice))) * 1e9))
        nanosleep(&request, nil)
        remaining -= slice
    }
}

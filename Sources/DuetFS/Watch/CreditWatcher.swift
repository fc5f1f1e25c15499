import Synchronization

/// Connects an event source to a `Creditor`: batches go to `ingest` on the source's thread, and a
/// thread of its own runs `settle` every `settleInterval` seconds and, every `flushInterval`, the
/// given `flush` (e.g. `Ledger.flush`). What `duet watch` runs per file system.
public final class CreditWatcher: Sendable {
    public let source: any EventSource
    public let creditor: Creditor
    public let settleInterval: Double
    public let flushInterval: Double
    private let flush: (@Sendable () throws -> Void)?
    /// Also given every batch (e.g. the hub's `ingest`), after the creditor.
    private let forward: (@Sendable ([CacheEvent]) -> Void)?

    private struct State {
        var thread: BackgroundThread?
        var started = false
        var flushFailures: UInt64 = 0
        var lastFlushError: String?
    }

    private let state = Mutex(State())
    private let stopRequested = Atomic<Bool>(false)

    public init(
        source: any EventSource, creditor: Creditor, settleInterval: Double = 0.25, flushInterval: Double = 5,
        flush: (@Sendable () throws -> Void)? = nil, forward: (@Sendable ([CacheEvent]) -> Void)? = nil
    ) {
        self.source = source
        self.creditor = creditor
        self.settleInterval = settleInterval
        self.flushInterval = flushInterval
        self.flush = flush
        self.forward = forward
    }

    public func start() throws {
        try state.withLock { state in
            guard !state.started else { throw DuetError(.unsupported, "the credit watcher was already started") }
            state.started = true
            let creditor = creditor
            let forward = forward
            try source.start { batch in
                creditor.ingest(batch)
                forward?(batch)
            }
            do {
                state.thread = try BackgroundThread.start(name: "creditor settle") { [self] in run() }
            } catch {
                source.stop()
                throw error
            }
        }
    }

    /// Stops the source, settles what is past its window (pages still inside it are dropped: they
    /// cannot be told from writes yet) and flushes.
    public func stop() {
        source.stop()
        stopRequested.store(true, ordering: .releasing)
        let thread = state.withLock { state -> BackgroundThread? in
            defer { state.thread = nil }
            return state.thread
        }
        if let thread, !thread.isCurrent { thread.join() }
        creditor.settle()
        // Counted as the periodic flushes are, so the owner's last report shows a lost final flush.
        if let flush {
            do { try flush() } catch { recordFlushFailure(error) }
        }
    }

    public var flushFailures: (count: UInt64, last: String?) { state.withLock { ($0.flushFailures, $0.lastFlushError) } }

    private func run() {
        var sinceFlush = 0.0
        while !stopRequested.load(ordering: .acquiring) {
            sleep(seconds: settleInterval, unless: stopRequested)
            creditor.settle()
            sinceFlush += settleInterval
            if sinceFlush >= flushInterval, let flush {
                sinceFlush = 0
                do { try flush() } catch { recordFlushFailure(error) }
            }
        }
    }

    private func recordFlushFailure(_ error: any Error) {
        state.withLock {
            $0.flushFailures += 1
            $0.lastFlushError = "\(error)"
        }
    }
}

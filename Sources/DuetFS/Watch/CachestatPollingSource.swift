import Dispatch
import Glibc
import Synchronization

/// A polling `EventSource` for when eBPF is not available: sweeps the scope with a
/// `CachestatScanner` every `interval` and reports the difference from the previous sweep:
/// `.added` for pages that appeared, `.removed` for pages that left, `.dirtied` for pages that
/// became dirty (or under writeback).
///
/// A sweep cannot tell pages read from disk from pages written: pages that appear in a file whose
/// mtime or ctime moved since the previous sweep began (or that appear dirty) are also reported as
/// `.dirtied`, so the creditor never takes them for reads. A page written and evicted between two
/// sweeps is not seen at all; a page read, dirtied and cleaned between two sweeps is seen as read
/// only if the file's times did not move, which a write always moves. No `.extentWritten` or
/// writeback events: the creditor's generation check covers rewrites (`Ledger.revalidate`).
/// Resolution is the interval: a consumer that holds added pages for a settle window needs a
/// window longer than the interval.
///
/// The first sweep is the baseline; with `reportInitial` it is reported as `.added` (+ `.dirtied`).
/// `start` returns once the baseline is taken, so a page that arrives after it is reported: a page
/// read while the baseline was still being swept would count as cached before the watch.
public final class CachestatPollingSource: EventSource {
    public let name = "cachestat-poll"
    public let scanner: CachestatScanner
    public let scope: HubScope
    public let interval: Double
    public let reportInitial: Bool

    struct FileKey: Hashable {
        var device: UInt32
        var root: UInt64
        var inode: UInt64
    }

    private struct State {
        var thread: BackgroundThread?
        var started = false
        var delivered: UInt64 = 0
        var sweeps: UInt64 = 0
        var last = CachestatScanner.Statistics()
        var failure: DuetError?
    }

    private let state = Mutex(State())
    private let stopRequested = Atomic<Bool>(false)
    private let baselineTaken = DispatchSemaphore(value: 0)

    public init(scanner: CachestatScanner, scope: HubScope, interval: Double = 1, reportInitial: Bool = false) {
        self.scanner = scanner
        self.scope = scope
        self.interval = interval
        self.reportInitial = reportInitial
    }

    deinit { stop() }

    public func start(deliver: @escaping @Sendable ([CacheEvent]) -> Void) throws {
        try state.withLock { state in
            guard !state.started else {
                throw DuetError(.unsupported, "the cachestat polling source was already started; create a new one")
            }
            state.started = true
            state.thread = try BackgroundThread.start(name: "cachestat polling") { [self] in run(deliver) }
        }
        baselineTaken.wait()
    }

    public func stop() {
        stopRequested.store(true, ordering: .releasing)
        let thread = state.withLock { state -> BackgroundThread? in
            defer { state.thread = nil }
            return state.thread
        }
        if let thread, !thread.isCurrent { thread.join() }
    }

    public var statistics: EventSourceStatistics {
        EventSourceStatistics(delivered: state.withLock { $0.delivered }, lost: 0)
    }

    /// Sweeps done, and the counters of the last one (its `seconds` is its duration).
    public var sweepStatistics: (sweeps: UInt64, last: CachestatScanner.Statistics) {
        state.withLock { ($0.sweeps, $0.last) }
    }

    public var failure: DuetError? { state.withLock { $0.failure } }

    private func run(_ deliver: @escaping @Sendable ([CacheEvent]) -> Void) {
        var previous: [FileKey: FileResidency]?
        var previousStart: UInt64 = 0
        // A stop before the first sweep must not leave `start` waiting.
        defer { if previous == nil { baselineTaken.signal() } }
        while !stopRequested.load(ordering: .acquiring) {
            let begin = SystemClock.monotonicNanoseconds()
            let wallStart = Self.wallNanoseconds()
            var current: [FileKey: FileResidency] = [:]
            var statistics = CachestatScanner.Statistics()
            do {
                try scanner.sweep(scope, statistics: &statistics) { file in
                    current[FileKey(device: file.device, root: file.root, inode: file.inode)] = file
                }
            } catch {
                state.withLock { $0.failure = error as? DuetError ?? DuetError(.malformed, "\(error)") }
            }
            var events: [CacheEvent] = []
            if previous == nil { baselineTaken.signal() }
            if let previous {
                // Coarse timestamps (jiffies) can lag a little: widen the window by 50 ms.
                let since = previousStart > 50_000_000 ? previousStart - 50_000_000 : 0
                Self.diff(previous: previous, current: current, modifiedSince: since, into: &events)
            } else if reportInitial {
                Self.diff(previous: [:], current: current, modifiedSince: UInt64.max, into: &events)
            }
            previous = current
            previousStart = wallStart
            state.withLock {
                $0.sweeps += 1
                $0.last = statistics
                $0.delivered += UInt64(events.count)
            }
            var index = 0
            while index < events.count {
                let end = min(index + 4096, events.count)
                deliver(Array(events[index..<end]))
                index = end
            }
            let elapsed = Double(SystemClock.monotonicNanoseconds() - begin) / 1e9
            sleep(seconds: max(interval - elapsed, 0.001), unless: stopRequested)
        }
    }

    private static func wallNanoseconds() -> UInt64 {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        return UInt64(now.tv_sec) * 1_000_000_000 + UInt64(now.tv_nsec)
    }

    /// The events that turn sweep `previous` into sweep `current`; `modifiedSince` is the wall time
    /// (ns) before which a file's mtime/ctime must lie for its new pages to count as reads
    /// (`UInt64.max`: the initial report, where only dirty pages are dirtied).
    static func diff(
        previous: [FileKey: FileResidency], current: [FileKey: FileResidency], modifiedSince: UInt64,
        into events: inout [CacheEvent]
    ) {
        func emit(_ kind: CacheEvent.Kind, _ file: FileResidency, _ set: ExtentSet) {
            for run in set {
                events.append(
                    CacheEvent(
                        kind: kind, device: file.device, root: file.root, inode: file.inode,
                        firstPage: run.lowerBound, pageCount: UInt64(run.count)))
            }
        }
        for (key, old) in previous where current[key] == nil { emit(.removed, old, old.resident) }
        for (key, file) in current.sorted(by: { ($0.key.device, $0.key.root, $0.key.inode) < ($1.key.device, $1.key.root, $1.key.inode) }) {
            let old = previous[key]
            let appeared = old.map { file.resident.subtracting($0.resident) } ?? file.resident
            if let old { emit(.removed, file, old.resident.subtracting(file.resident)) }
            emit(.added, file, appeared)
            var dirtied = old.map { file.dirty.subtracting($0.dirty) } ?? file.dirty
            let written = max(file.modification, file.change) >= modifiedSince || (old.map { $0.size != file.size } ?? false)
            if written, modifiedSince != UInt64.max { dirtied.formUnion(appeared) }
            emit(.dirtied, file, dirtied)
        }
    }
}

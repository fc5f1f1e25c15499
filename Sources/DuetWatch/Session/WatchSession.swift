import DuetFS
import Foundation

/// One `duet watch`: per file system, the lock, the ledger, a `Creditor` fed by the first event
/// source that starts, and `watch.json`; then, every tick until a stop is requested, the rates and
/// the status file of each. The caller drives it as a pipeline:
///
///     let session = try WatchSession(source: .auto, stateDirectory: nil, logInterval: 3600, stop: stop, warn: log)
///     defer { session.stop() }
///     for mount in mounts { try session.add(mount: mount) }
///     while let ticks = session.next() { … print each tick … }
///
/// `add`, `next` and `stop` run on the caller's thread; the watchers run on their sources' threads
/// and a settle thread each (`CreditWatcher`); only `WatchStopRequest.request()` comes from elsewhere.
public final class WatchSession {
    /// How often watch.json (what `duet status` shows) is rewritten: the log interval is for
    /// people reading the journal and is long by default; the status file should stay fresh.
    public static let statusInterval: Double = 10

    public let source: WatchSourceChoice
    /// Where the ledger lives; nil: `Ledger.defaultDirectory` of each file system.
    public let stateDirectory: String?
    /// Seconds between log summaries (`WatchTick.logSummary`).
    public let logInterval: Double
    /// Seconds between ticks: the status interval, or the log interval if shorter.
    public var tickInterval: Double { min(Self.statusInterval, logInterval) }

    private let stopRequest: WatchStopRequest
    /// Something the operator should know that does not stop the watcher: a damaged ledger
    /// journal, a source that did not start and gave way to the next.
    private let warn: (String) -> Void
    private let mountTable: MountTable
    private var watches: [FileSystemWatch] = []
    /// One watcher per file system whatever its state directory; held until `stop`.
    private var locks: [FileSystemLock] = []
    private var lastTick: Date?

    /// Reads the mount table; starts nothing.
    public init(
        source: WatchSourceChoice, stateDirectory: String?, logInterval: Double, stop: WatchStopRequest,
        warn: @escaping (String) -> Void
    ) throws {
        self.source = source
        self.stateDirectory = stateDirectory
        self.logInterval = logInterval
        stopRequest = stop
        self.warn = warn
        mountTable = try MountTable.current()
    }

    /// Starts watching the btrfs file system mounted at `mount` and writes its first `watch.json`.
    @discardableResult
    public func add(mount: String) throws -> WatchedFileSystem {
        let fileSystem = try FileSystem(path: mount)
        let info = try fileSystem.info()
        let directory = stateDirectory ?? Ledger.defaultDirectory(for: info.fsid)
        locks.append(try FileSystemLock(task: "watch", fileSystem: info.fsid, stateDirectory: directory))
        let ledger: Ledger
        do {
            ledger = try Ledger.open(fileSystem: info.fsid, directory: directory)
        } catch .locked {
            throw DuetError(
                .system(errno: EBUSY),
                "cannot open the ledger of \(mount) in \(directory): another process holds it (is another `duet watch` running?)")
        } catch {
            throw DuetError(.malformed, "cannot open the ledger of \(mount) in \(directory): \(error)")
        }
        if let warning = ledger.loadReport.damageWarning(journal: directory + "/journal") { warn(warning) }
        let device = try mountTable.btrfsEntry(containing: mount).kernelDevice
        let creditor = try Creditor(fileSystem: fileSystem, ledger: ledger, device: device)
        let watcher = try SourceFallback.start(source.candidates, mount: mount, warn: warn) { candidate in
            try Self.startWatcher(candidate, mount: mount, device: device, creditor: creditor, ledger: ledger)
        }
        let watch = FileSystemWatch(
            mountPath: mount, fsid: info.fsid, ledger: ledger, watcher: watcher, status: WatchStatusFile(directory: directory))
        watch.writeInitialReport()
        watches.append(watch)
        return WatchedFileSystem(mountPath: mount, fsid: info.fsid, stateDirectory: directory, source: watcher.source.name)
    }

    /// Waits one tick, then writes every file system's `watch.json` and returns what each
    /// reported; nil once a stop was requested.
    public func next() -> [WatchTick]? {
        let last = lastTick ?? Date()
        guard !stopRequest.wait(seconds: tickInterval) else { return nil }
        let now = Date()
        lastTick = now
        let elapsed = now.timeIntervalSince(last)
        return watches.map { $0.tick(now: now, elapsed: elapsed, logInterval: logInterval) }
    }

    /// Stops every watcher (each settles what is past its window and flushes its ledger), removes
    /// their `watch.json` and releases the ledgers and locks. Does nothing a second time.
    public func stop() {
        for watch in watches { if let failure = watch.stop() { warn(failure) } }
        watches.removeAll()
        locks.removeAll()
    }

    /// Starts a watcher of `mount` with one source.
    static func startWatcher(_ choice: WatchSourceChoice, mount: String, device: UInt32, creditor: Creditor, ledger: Ledger) throws
        -> CreditWatcher
    {
        let eventSource = try choice.makeSource(mount: mount, device: device)
        // Flushed every second: a scrub running beside the watcher reads the ledger from disk.
        let watcher = CreditWatcher(source: eventSource, creditor: creditor, flushInterval: 1, flush: { try ledger.flush() })
        try watcher.start()
        return watcher
    }
}

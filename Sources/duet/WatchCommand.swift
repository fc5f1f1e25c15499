import ArgumentParser
import DuetFS
import DuetWatch
import Foundation
import Logging

struct WatchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "watch",
        abstract: "Keep the verification ledger current from page-cache events (a daemon; stop it with SIGTERM).",
        discussion: """
        Credits a logical range only when a clean data page was read from disk in a single-copy chunk \
        and the read succeeded (btrfs verified its checksum); never a page added for a write; voids the \
        credit of ranges btrfs writes anew; tree blocks read through the btree inode likewise.
        """
    )

    @Argument(help: "Mount points of the btrfs file systems to watch.", completion: .directory)
    var mounts: [String]

    @Option(help: "Event source: kernel (the Duet kernel framework, /dev/duet), bpf (eBPF probes), cachestat (polling sweeps: coarse), or auto (kernel when /dev/duet exists, else bpf when the kernel allows it, else cachestat).")
    var source: EventSourceChoice = .auto

    @Option(help: "Where the ledger lives (default /var/lib/duet/<uuid>); only with a single mount.", completion: .directory)
    var stateDir: String?

    @Option(help: "Seconds between log lines with event rates and credit; a window in which nothing happened logs nothing. Lost events are logged at once.")
    var logInterval: Double = 3600

    @Flag(help: "Print status lines as JSON (versioned envelopes) on stdout, one each time watch.json is written (every 10 s, or every --log-interval if shorter).")
    var json = false

    /// How often watch.json (what `duet status` shows) is rewritten: the log interval is for
    /// people reading the journal and is long by default; the status file should stay fresh.
    static let statusInterval: Double = 10

    enum EventSourceChoice: String, ExpressibleByArgument, CaseIterable {
        case auto, kernel, bpf, cachestat
    }

    func validate() throws {
        if stateDir != nil, mounts.count > 1 { throw ValidationError("--state-dir names one file system's directory: give one mount with it") }
        if logInterval <= 0 { throw ValidationError("--log-interval must be positive") }
    }

    func run() throws {
        if source == .kernel, !KernelEventSource.isAvailable {
            Terminal.fail("--source kernel: \(KernelEventSource.unsupportedReason() ?? "\(KernelEventSource.devicePath) is missing"); use --source bpf, cachestat or auto",
                          status: .eventSourceUnavailable)
        }
        try Terminal.requireRoot(for: "duet watch")
        var logger = Logger(label: "duet.watch")
        logger.logLevel = .info
        // Trap the signals before anything starts, so a stop request during start-up is not lost.
        let stop = DispatchSemaphore(value: 0)
        let signals = SignalTrap([SIGINT, SIGTERM]) { stop.signal() }
        defer { signals.release() }
        let table = try MountTable.current()
        var watchers: [(mount: String, fsid: FileSystemID, ledger: Ledger, watcher: CreditWatcher, status: WatchStatusFile)] = []
        // One watcher per file system whatever its --state-dir; held until the process ends.
        var fileSystemLocks: [FileSystemLock] = []
        defer { withExtendedLifetime(fileSystemLocks) {} }
        defer { for entry in watchers { entry.watcher.stop(); entry.status.remove() } }
        for mount in mounts {
            let fileSystem = try FileSystem(path: mount)
            let info = try fileSystem.info()
            let directory = stateDir ?? Ledger.defaultDirectory(for: info.fsid)
            fileSystemLocks.append(try FileSystemLock(task: "watch", fileSystem: info.fsid, stateDirectory: directory))
            let ledger: Ledger
            do {
                ledger = try Ledger.open(fileSystem: info.fsid, directory: directory)
            } catch .locked {
                throw DuetError(.system(errno: EBUSY), "cannot open the ledger of \(mount) in \(directory): another process holds it (is another `duet watch` running?)")
            } catch {
                throw DuetError(.malformed, "cannot open the ledger of \(mount) in \(directory): \(error)")
            }
            if let warning = ledger.loadReport.damageWarning(journal: directory + "/journal") { logger.warning("\(warning)") }
            let device = try table.btrfsEntry(containing: mount).kernelDevice
            let creditor = try Creditor(fileSystem: fileSystem, ledger: ledger, device: device)
            let (watcher, eventSource) = try Self.startWatcher(source, mount: mount, device: device, creditor: creditor, ledger: ledger, logger: logger)
            let status = WatchStatusFile(directory: directory)
            status.write(WatchReport(mountPath: mount, uuid: info.fsid.description, source: eventSource.name, pid: getpid(), updatedAt: Date(),
                                     eventsPerSecond: 0, pageEventsPerSecond: 0, eventsDelivered: 0, eventsLost: 0, creditor: creditor.statistics, flushFailures: 0))
            watchers.append((mount, info.fsid, ledger, watcher, status))
            logger.info("watching \(mount) (\(info.fsid)) with \(eventSource.name), ledger in \(directory)")
        }

        var previous: [String: WatchCounters] = [:]
        var windows: [String: WatchLogWindow] = [:]
        var last = Date()
        while stop.wait(timeout: .now() + min(Self.statusInterval, logInterval)) == .timedOut {
            let now = Date()
            let elapsed = now.timeIntervalSince(last)
            last = now
            for entry in watchers {
                let statistics = entry.watcher.source.statistics
                let creditor = entry.watcher.creditor.statistics
                let counters = WatchCounters(source: statistics, creditor: creditor)
                let rates = WatchRates(from: previous[entry.mount] ?? WatchCounters(), to: counters, seconds: elapsed)
                previous[entry.mount] = counters
                let report = WatchReport(mountPath: entry.mount, uuid: entry.fsid.description, source: entry.watcher.source.name,
                                         pid: getpid(), updatedAt: now,
                                         eventsPerSecond: rates.eventsPerSecond, pageEventsPerSecond: rates.pageEventsPerSecond,
                                         eventsDelivered: statistics.delivered, eventsLost: statistics.lost,
                                         creditor: creditor,
                                         flushFailures: entry.watcher.flushFailures.count)
                entry.status.write(report)
                if json {
                    if let line = try? JSONEnvelope(command: "watch", result: report).render(compact: true) { FileHandle.standardOutput.write(Data((line + "\n").utf8)) }
                } else {
                    var window = windows[entry.mount] ?? WatchLogWindow(start: now.addingTimeInterval(-elapsed))
                    if let summary = window.summary(for: report, at: now, interval: logInterval) { logger.info("\(entry.mount): \(Self.logLine(summary))") }
                    windows[entry.mount] = window
                }
                if rates.lost > 0 {
                    logger.warning("\(entry.mount): \(rates.lost) events lost in the last \(Int(elapsed)) s: credit for those pages is not recorded (safe), but raise the ring buffer if it persists")
                }
            }
        }
        logger.info("stopping: settling held pages and flushing the ledger")
    }

    /// Starts a watcher with the chosen source. With `auto`, a source that fails to start (the
    /// kernel's 64 Duet tasks in use, a probe the kernel refuses) gives way to the next: kernel,
    /// then bpf, then cachestat.
    static func startWatcher(_ choice: EventSourceChoice, mount: String, device: UInt32, creditor: Creditor, ledger: Ledger,
                             logger: Logger) throws -> (CreditWatcher, any EventSource) {
        let candidates: [EventSourceChoice] = choice != .auto ? [choice]
            : (KernelEventSource.isSupported ? [.kernel] : []) + (BPFEventSource.isSupported ? [.bpf] : []) + [.cachestat]
        func start(_ candidate: EventSourceChoice) throws -> (CreditWatcher, any EventSource) {
            let eventSource = try makeSource(candidate, mount: mount, device: device)
            // Flushed every second: a scrub running beside the watcher reads the ledger from disk.
            let watcher = CreditWatcher(source: eventSource, creditor: creditor, flushInterval: 1, flush: { try ledger.flush() })
            try watcher.start()
            return (watcher, eventSource)
        }
        for (index, candidate) in candidates.dropLast().enumerated() {
            do {
                return try start(candidate)
            } catch {
                logger.warning("\(mount): the \(candidate.rawValue) source did not start (\(error)); trying \(candidates[index + 1].rawValue)")
            }
        }
        return try start(candidates[candidates.count - 1])
    }

    static func makeSource(_ choice: EventSourceChoice, mount: String, device: UInt32) throws -> any EventSource {
        switch choice {
        case .kernel:
            return KernelEventSource(mount: mount, device: device)
        case .bpf:
            return try BPFEventSource(mounts: [mount])
        case .cachestat, .auto:
            return CachestatPollingSource(scanner: try CachestatScanner(mounts: [mount]), scope: .fileSystem(device: device))
        }
    }

    /// The periodic log line: records as the source delivered them (the eBPF source merges runs
    /// of pages into one), then the same events counted per page.
    static func logLine(_ summary: WatchLogSummary) -> String {
        "\(Int(summary.eventsPerSecond)) events/s (\(Int(summary.pageEventsPerSecond)) page events/s) in the last \(Int(summary.seconds.rounded())) s, "
            + "\(summary.lost) lost, \(ByteCount.human(summary.creditedBytes)) credited (\(ByteCount.human(summary.totalCreditedBytes)) since start)"
    }
}

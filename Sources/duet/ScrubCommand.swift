import ArgumentParser
import DuetFS
import DuetScrub
import Foundation

struct ScrubCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "scrub",
        abstract: "Verify every copy of data and metadata, skipping what foreground reads already verified.",
        subcommands: [ScrubStart.self, ScrubResume.self, ScrubStatus.self, ScrubCancel.self]
    )
}

/// Options shared by `start` and `resume`.
struct ScrubRunOptions: ParsableArguments {
    @OptionGroup var target: MountArgument

    @Flag(help: "Verify everything; skip nothing the ledger credits.")
    var full = false

    @Option(
        help:
            "Skip only what was verified within this period (e.g. 7d, 12h, 3600); default: since the last complete scrub, at most 30 days.")
    var period: String?

    @Option(help: "Read at most this many bytes per second from all devices (e.g. 200M).")
    var limit: String?

    @OptionGroup var idleOptions: IdleOptions<ScrubRunOptions>

    @Option(help: "Bytes of reads in flight per scrub (e.g. 16M; default 64M); less is gentler on a shared disk.")
    var inFlight: String?

    @Option(help: "The largest single read (e.g. 1M; default 4M, at most 64M).")
    var readSize: String?

    @Flag(help: "Hand device extents with bad copies to the kernel scrub to rewrite from a good mirror, then verify again.")
    var repair = false

    @OptionGroup var output: JSONFlag

    @Option(help: "Write Prometheus textfile metrics into this directory.", completion: .directory)
    var metricsDir: String?

    @Option(help: "Where scrub state and the ledger live (default /var/lib/duet/<uuid>).", completion: .directory)
    var stateDir: String?

    @Option(help: .hidden)
    var checkpointInterval: Double?

    func validate() throws {
        if let checkpointInterval, !(0.05...3600).contains(checkpointInterval) {
            throw ValidationError("--checkpoint-interval: give 0.05 to 3600 seconds")
        }
        if let period, Units.seconds(period) == nil {
            throw ValidationError("--period \(period): give seconds or a number with s, m, h or d")
        }
        if let limit, (Units.bytes(limit) ?? 0) == 0 {
            throw ValidationError(
                "--limit \(limit): give bytes per second above 0 that fit in 64 bits, optionally with K, M, G, T (binary units: 200M, 1.5G, 100MiB)"
            )
        }
        if let inFlight, !(4096...64 << 30).contains(Units.bytes(inFlight) ?? 0) {
            throw ValidationError("--in-flight \(inFlight): give 4K to 64G bytes, optionally with K, M or G")
        }
        if let readSize, !(64 << 10...64 << 20).contains(Units.bytes(readSize) ?? 0) {
            throw ValidationError("--read-size \(readSize): give 64K to 64M")
        }
    }

    func run(resume: Bool) throws {
        try Terminal.requireRoot(for: "duet scrub")
        let fileSystem = try FileSystem(path: target.mount)
        var options = ScrubOptions()
        options.full = full
        options.idle = idleOptions.idle
        options.deadline = idleOptions.deadline(from: Date())
        options.bandwidthLimit = limit.flatMap(Units.bytes) ?? 0
        if let bytes = inFlight.flatMap(Units.bytes) { options.maximumInFlight = Int(bytes) }
        if let bytes = readSize.flatMap(Units.bytes) { options.coalescer.maximumRead = Int(bytes) }
        // Checked before the scrub, not after it: a metrics directory that cannot be written must
        // not turn hours of scrubbing into a failure without a report.
        if let metricsDir { try ScrubMetrics.prepare(metricsDir) }
        let session = try ScrubSession(fileSystem: fileSystem, stateDirectory: stateDir, options: options)
        session.period = period.flatMap(Units.seconds)
        session.warn = { Terminal.warn($0) }
        if let checkpointInterval { session.checkpointInterval = checkpointInterval }
        if isatty(STDERR_FILENO) != 0 { session.progress = ScrubReporter.progressPrinter() }
        let signals = SignalTrap([SIGINT, SIGTERM]) { session.cancel() }
        defer { signals.release() }

        var record: ScrubRecord
        do {
            record = try session.run(resume: resume)
        } catch let error as ScrubSession.ResumeError {
            Terminal.fail(error.description, status: .nothingToResume)
        }
        if isatty(STDERR_FILENO) != 0 { FileHandle.standardError.write(Data("\r\u{1B}[K".utf8)) }
        if repair { record = try session.repair(record) }
        if let metricsDir {
            do {
                try ScrubMetrics.write(record, to: metricsDir)
            } catch {
                Terminal.warn("could not write the metrics into \(metricsDir): \(error); the scrub's result stands")
            }
        }
        if record.status == .interrupted {
            Terminal.warn(
                "scrub interrupted; progress saved: `duet scrub resume \(target.mount)\(stateDir.map { " --state-dir \($0)" } ?? "")` continues it"
            )
        }
        if output.json {
            print(
                try JSONEnvelope(command: resume ? "scrub resume" : "scrub start", result: ScrubResult(record: record, now: Date()))
                    .render())
        } else {
            print(ScrubReporter.summary(record))
        }
        throw ExitCode(ScrubReporter.exitStatus(record).rawValue)
    }
}

extension ScrubRunOptions: IdleWaitingTask {
    static let noun = "scrub"
    static let idleHelp = "Back off while a device serves foreground I/O."
    static let deadlineExamples = "6h, 90m"
}

struct ScrubStart: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "start", abstract: "Scrub in the foreground (for cron and systemd).")
    @OptionGroup var options: ScrubRunOptions
    func validate() throws { try options.validate() }
    func run() throws { try options.run(resume: false) }
}

struct ScrubResume: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "resume", abstract: "Continue an interrupted scrub.")
    @OptionGroup var options: ScrubRunOptions
    func validate() throws { try options.validate() }
    func run() throws { try options.run(resume: true) }
}

struct ScrubStatus: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "status", abstract: "Show the latest or running scrub.")

    @OptionGroup var target: MountArgument
    @OptionGroup var output: JSONFlag
    @Option(help: "Where scrub state lives (default /var/lib/duet/<uuid>).", completion: .directory)
    var stateDir: String?

    func run() throws {
        try Terminal.requireRoot(for: "duet scrub status")
        let fileSystem = try FileSystem(path: target.mount)
        let fsid = try fileSystem.info().fsid
        let store = ScrubStateStore(directory: stateDir ?? Ledger.defaultDirectory(for: fsid))
        guard let record = try store.loadForStatus() else {
            Terminal.fail("no scrub has run on \(target.mount) (no record in \(store.directory))", status: .nothingToResume)
        }
        if output.json {
            print(try JSONEnvelope(command: "scrub status", result: ScrubResult(record: record, now: Date())).render())
        } else {
            print(ScrubReporter.summary(record))
        }
    }
}

struct ScrubCancel: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cancel", abstract: "Stop a running scrub (its progress is saved for resume).")

    @OptionGroup var target: MountArgument
    @Option(help: "Where scrub state lives (default /var/lib/duet/<uuid>).", completion: .directory)
    var stateDir: String?

    func run() throws {
        try Terminal.requireRoot(for: "duet scrub cancel")
        let fileSystem = try FileSystem(path: target.mount)
        let fsid = try fileSystem.info().fsid
        let store = ScrubStateStore(directory: stateDir ?? Ledger.defaultDirectory(for: fsid))
        switch try store.cancelRunning() {
        case .notRunning:
            Terminal.fail("no scrub is running on \(target.mount)", status: .nothingToResume)
        case .stillRunning(let pid):
            Terminal.fail("scrub process \(pid) did not stop within \(Int(ScrubStateStore.cancelTimeout)) s")
        case .stopped:
            print("scrub on \(target.mount) cancelled; `duet scrub resume \(target.mount)` continues it")
        }
    }
}

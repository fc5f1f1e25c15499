import ArgumentParser
import DuetFS
import DuetSend
import Foundation

/// `duet send`: a `btrfs send`-compatible stream that reads file data from the page cache
/// first (the snapshot's own, then verified pages of the live file), the rest in disk order.
struct SendCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "send",
        abstract: "Send read-only snapshots as a btrfs send stream, reading cached data first.",
        discussion: """
        Options and output follow `btrfs send`: the stream goes to standard output or -f FILE, \
        one complete stream per snapshot, concatenated. Apply it with stock `btrfs receive`. \
        A summary goes to standard error (not with -q); --json prints it there as JSON. \
        On failure the stream is cut before END (so receive fails), -f FILE is removed, and the exit code is 1.
        """
    )

    @Option(name: .customShort("p"), help: "Send an incremental stream from this parent snapshot.")
    var parent: String?

    @Option(name: .customShort("c"), help: "Use this snapshot as a clone source (repeatable).")
    var cloneSources: [String] = []

    @Option(name: .customShort("f"), help: "Write the stream into this file instead of standard output.")
    var file: String?

    @Option(name: .customLong("proto"), help: "Send stream protocol version: 1 (default), 2, or 0 for the highest the kernel supports.")
    var proto: UInt32?

    @Flag(name: .customLong("compressed-data"), help: "Send compressed extents without decompressing them (implies --proto 2).")
    var compressedData = false

    @Flag(name: .customLong("no-data"), help: "Send metadata only (the kernel's UPDATE_EXTENT stream).")
    var noData = false

    @Flag(name: [.customShort("q"), .customLong("quiet")], help: "No summary on standard error.")
    var quiet = false

    @Flag(name: .customShort("v"), help: "Accepted for btrfs send compatibility.")
    var verbose: Int

    @Flag(name: .customShort("e"), help: "Accepted for btrfs send compatibility; every stream ends with END.")
    var omitEndBetween = false

    @Flag(name: .customLong("no-other-cache"), help: "Never read the cached pages of the source subvolume or of other snapshots.")
    var noOtherCache = false

    @Flag(name: .customLong("no-events"), help: "Do not use page-cache events (eBPF) to move newly cached data ahead; poll with mincore instead.")
    var noEvents = false

    @Flag(help: "Back off before reading from disk while a device of the file system serves other I/O; meanwhile send what that I/O brings into the cache.")
    var idle = false

    @Option(help: "With --idle: finish within this time (e.g. 2h, 30m): stop waiting for idle devices once the rest would not fit otherwise.")
    var deadline: String?

    @Option(help: "The ledger's directory, credited with the data read from disk (default /var/lib/duet/<fsid>).")
    var stateDir: String?

    @Flag(name: .customLong("no-ledger"), help: "Do not credit the data read from disk to the ledger.")
    var noLedger = false

    @Flag(help: "Print the summary as JSON (a versioned envelope) on standard error.")
    var json = false

    @Argument(help: "Read-only snapshots to send.")
    var snapshots: [String]

    func validate() throws {
        if let proto, proto > 2 { throw ValidationError("--proto \(proto): give 0, 1 or 2") }
        if compressedData, proto == 1 { throw ValidationError("--compressed-data needs --proto 2") }
        if snapshots.isEmpty { throw ValidationError("give at least one read-only snapshot") }
        if let deadline {
            guard Units.seconds(deadline) != nil else { throw ValidationError("--deadline \(deadline): give seconds or a number with s, m, h or d") }
            guard idle else { throw ValidationError("--deadline applies to --idle: without it the send never waits") }
        }
    }

    func run() throws {
        try Terminal.requireRoot(for: "duet send")
        signal(SIGPIPE, SIG_IGN)
        var options = SendSession.Options(snapshots: snapshots)
        options.parent = parent
        options.cloneSources = cloneSources
        options.protocolVersion = proto ?? (compressedData ? 2 : 1)
        options.compressedData = compressedData
        options.noData = noData
        options.useOtherCache = !noOtherCache
        options.creditLedger = !noLedger
        options.cacheEvents = !noEvents
        options.ledgerDirectory = stateDir
        options.idle = idle
        options.deadline = deadline.flatMap(Units.seconds).map { Date().addingTimeInterval(TimeInterval($0)) }

        let output: Int32
        if let file {
            output = open(file, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
            guard output >= 0 else { throw DuetError.system("open", file) }
        } else {
            if isatty(STDOUT_FILENO) != 0 {
                Terminal.fail("not writing a send stream to a terminal: redirect standard output or give -f FILE")
            }
            output = STDOUT_FILENO
        }
        // Interrupted: the same as a failure, never an output that looks complete.
        let signals = SignalTrap([SIGINT, SIGTERM, SIGHUP]) { [file] in
            if let file {
                unlink(file)
            } else {
                _ = SendSession.cutMarker.withUnsafeBytes { write(output, $0.baseAddress, $0.count) }
            }
            FileHandle.standardError.write(Data("duet: send interrupted; \(file.map { "removed the incomplete \($0)" } ?? "the stream was cut before its end")\n".utf8))
            _exit(ExitStatus.couldNotRun.rawValue)
        }
        defer { signals.release() }
        let session = SendSession(options: options, output: output)
        do {
            try session.run()
            if file != nil {
                guard fsync(output) == 0 || errno == EINVAL, close(output) == 0 else {
                    throw DuetError.system("close", file!)
                }
            }
        } catch {
            if let file {
                close(output)
                unlink(file)
            } else {
                // Half a command header: no receiver can mistake the cut stream for a whole one.
                _ = SendSession.cutMarker.withUnsafeBytes { write(output, $0.baseAddress, $0.count) }
            }
            let message = (error as? DuetError)?.message ?? String(describing: error)
            Terminal.fail("send failed: \(message)" + (file.map { "; removed the incomplete \($0)" } ?? "; the stream was cut before its end"))
        }
        if json {
            FileHandle.standardError.write(Data((try JSONEnvelope(command: "send", result: session.report).render() + "\n").utf8))
        } else if !quiet {
            FileHandle.standardError.write(Data(Self.summary(session.report).utf8))
        }
    }

    static func summary(_ report: SendSession.Report) -> String {
        var text = ""
        for stream in report.streams {
            let s = stream.statistics
            text += "At subvol \(stream.snapshot)" + (stream.parent.map { " (parent \($0))" } ?? "") + "\n"
            var table = KeyValueTable()
            table.add("data from own cache", ByteCount.human(s.bytesFromOwnCache))
            table.add("data from other cache", ByteCount.human(s.bytesFromOtherCache)
                      + (s.otherCacheRejectedBytes > 0 ? " (\(ByteCount.human(s.otherCacheRejectedBytes)) rejected by checksum)" : ""))
            table.add("data from disk", ByteCount.human(s.bytesFromDisk)
                      + (s.bytesCredited > 0 ? " (\(ByteCount.human(s.bytesCredited)) credited to the ledger)" : ""))
            table.add("zeros (holes)", ByteCount.human(s.zeroBytes))
            table.add("commands", "\(s.commands), \(ByteCount.human(s.streamBytes)) (protocol v\(stream.protocolVersion))")
            table.add("time", String(format: "%.2fs", s.seconds)
                      + (s.secondsDeferred > 0 ? String(format: " (%.1fs waiting for idle devices)", s.secondsDeferred) : ""))
            text += table.render() + "\n"
            if let warning = stream.ledgerWarning { text += "warning: \(warning)\n" }
        }
        return text
    }
}

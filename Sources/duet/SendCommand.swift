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
            A drop-in for `btrfs send`: the same options and spellings (-fFILE, -pPARENT, --verbose, \
            options after the snapshots), the same stream, and the same lines on standard error: \
            "At subvol X" before each snapshot's stream (not with -q), more with -v, and btrfs send's \
            "ERROR: ..." messages with exit code 1. Apply the stream with stock `btrfs receive`. \
            Without -e each snapshot is a complete stream of its own, concatenated; with -e they form \
            one stream ending in one END (for `btrfs receive -e`). \
            Duet's summary (bytes from the page cache and from disk) only with --stats, or as JSON on \
            standard error with --json (which prints nothing else there). \
            -f FILE, if FILE is a regular file or does not exist, is written under a temporary name \
            beside it (.FILE.duet-XXXXXX) and renamed over FILE once the stream is complete and on \
            disk: a failed, interrupted or killed send leaves FILE as it was and removes the temporary \
            file (after SIGKILL it stays, never under FILE's name). Standard output, a device or a FIFO \
            is written in place and, on failure, cut before END so that a receiver fails; it is never removed.
            """
    )

    @Option(
        name: .customShort("p", allowingJoined: true),
        help: ArgumentHelp("Send an incremental stream from this parent snapshot.", valueName: "parent"), completion: .directory)
    var parents: [String] = []

    @Option(
        name: .customShort("c", allowingJoined: true),
        help: ArgumentHelp("Use this snapshot as a clone source (repeatable).", valueName: "clone-src"), completion: .directory)
    var cloneSources: [String] = []

    @Option(
        name: .customShort("f", allowingJoined: true),
        help: ArgumentHelp("Write the stream into this file instead of standard output.", valueName: "outfile"), completion: .file())
    var file: String?

    @Option(name: .customLong("proto"), help: "Send stream protocol version: 1 (default), 2, or 0 for the highest the kernel supports.")
    var proto: UInt64?

    @Flag(name: .customLong("compressed-data"), help: "Send compressed extents without decompressing them (implies --proto 2).")
    var compressedData = false

    @Flag(name: .customLong("no-data"), help: "Send metadata only (the kernel's UPDATE_EXTENT stream).")
    var noData = false

    @Flag
    var verbosity: [SendVerbosity] = []

    @Flag(name: .customShort("e"), help: "With several snapshots: one stream with one END after the last (for btrfs receive -e).")
    var omitEndBetween = false

    @Option(name: .customShort("i", allowingJoined: true), help: .hidden)
    var removedIncrementalOption: String?

    @Flag(help: "After the send, print Duet's summary (bytes from the page cache and from disk) on standard error.")
    var stats = false

    @Flag(name: .customLong("no-other-cache"), help: "Never read the cached pages of the source subvolume or of other snapshots.")
    var noOtherCache = false

    @Flag(
        name: .customLong("no-events"),
        help: "Do not use page-cache events (eBPF) to move newly cached data ahead; poll with mincore instead.")
    var noEvents = false

    @OptionGroup var idleOptions: IdleOptions<SendCommand>

    @Option(help: "The ledger's directory, credited with the data read from disk (default /var/lib/duet/<uuid>).", completion: .directory)
    var stateDir: String?

    @Flag(name: .customLong("no-ledger"), help: "Do not credit the data read from disk to the ledger.")
    var noLedger = false

    @Flag(help: "Print the summary as JSON (a versioned envelope) on standard error, and nothing else there.")
    var json = false

    @Argument(help: "Read-only snapshots to send.", completion: .directory)
    var snapshots: [String] = []

    /// btrfs send's verbosity from -v/-q in command-line order; --json keeps standard error for JSON.
    var log: SendLog {
        json ? SendLog(verbosity: 0) : SendLog(adjustments: verbosity.map { $0 == .verbose ? .verbose : .quiet })
    }

    func run() throws {
        if removedIncrementalOption != nil { refuse("option -i was removed, use -c instead") }
        // SIGPIPE keeps its default, as for btrfs send: a receiver that stops reading ends the send
        // silently (status 141 in a shell), and no "ERROR:" line joins the receiver's own message.
        // btrfs send's order: the -c and -p sources, the output, the snapshots, the protocol.
        let resolvedParent: String?
        do throws(SendRefusal) {
            for source in cloneSources { try SendPreflight.checkCloneSource(source) }
            resolvedParent = try SendPreflight.checkParent(parents)
        } catch {
            refuse(error.message)
        }
        if snapshots.isEmpty {
            FileHandle.standardError.write(Data("duet send: not enough arguments: 0 but at least 1 expected\n".utf8))
            Foundation.exit(ExitStatus.couldNotRun.rawValue)
        }
        let output: SendOutputGuard
        do throws(SendOutput.OpenFailure) {
            output = try SendOutputGuard(file: file) {
                SendLog.error("send interrupted by a signal")
                _exit(ExitStatus.couldNotRun.rawValue)
            }
        } catch {
            refuse(error.description)
        }
        defer { output.release() }
        let log = self.log
        let version: UInt32
        do throws(SendRefusal) {
            try SendPreflight.checkOutput(output.output)
            try SendPreflight.checkSnapshots(snapshots, resolvedParent: resolvedParent)
            version = try SendPreflight.checkProtocol(requested: proto, compressed: compressedData)
        } catch {
            output.refuse()
            refuse(error.message)
        }
        // After btrfs send's own checks, so that a user gets their refusals first, as from btrfs send.
        do {
            try Terminal.requireRoot(for: "duet send")
        } catch {
            output.refuse()
            throw error
        }
        if noData && log.verbosity > 1 { log.line(.standard, "Mode NO_FILE_DATA enabled") }
        log.line(.info, "Protocol version requested: \(version) (supported \(KernelSend.highestVersion()))")

        let session = SendSession(options: sessionOptions(version: version), output: output.descriptor)
        session.log = log
        do {
            try output.send(session)
        } catch {
            refuse((error as? DuetError)?.message ?? String(describing: error))
        }
        output.release()
        if json {
            FileHandle.standardError.write(Data((try JSONEnvelope(command: "send", result: session.report).render() + "\n").utf8))
        } else if stats {
            FileHandle.standardError.write(Data(Self.summary(session.report).utf8))
        }
    }

    private func sessionOptions(version: UInt32) -> SendSession.Options {
        var options = SendSession.Options(snapshots: snapshots)
        options.parent = parents.first
        options.cloneSources = cloneSources
        options.protocolVersion = version
        options.compressedData = compressedData
        options.noData = noData
        options.omitEndBetween = omitEndBetween
        options.useOtherCache = !noOtherCache
        options.creditLedger = !noLedger
        options.cacheEvents = !noEvents
        options.ledgerDirectory = stateDir
        options.idle = idleOptions.idle
        options.deadline = idleOptions.deadline(from: Date())
        return options
    }

    /// btrfs send's "ERROR: …" line and exit code 1.
    private func refuse(_ message: String) -> Never {
        SendLog.error(message)
        Foundation.exit(ExitStatus.couldNotRun.rawValue)
    }

    static func summary(_ report: SendSession.Report) -> String {
        var text = ""
        for stream in report.streams {
            let s = stream.statistics
            text += "Sent \(stream.snapshot)" + (stream.parent.map { " (parent \($0))" } ?? "") + ":\n"
            var table = KeyValueTable()
            table.add("data from own cache", ByteCount.human(s.bytesFromOwnCache))
            table.add(
                "data from other cache",
                ByteCount.human(s.bytesFromOtherCache)
                    + (s.otherCacheRejectedBytes > 0 ? " (\(ByteCount.human(s.otherCacheRejectedBytes)) rejected by checksum)" : ""))
            table.add(
                "data from disk",
                ByteCount.human(s.bytesFromDisk)
                    + (s.bytesCredited > 0 ? " (\(ByteCount.human(s.bytesCredited)) credited to the ledger)" : ""))
            table.add("zeros (holes)", ByteCount.human(s.zeroBytes))
            table.add("commands", "\(s.commands), \(ByteCount.human(s.streamBytes)) (protocol v\(stream.protocolVersion))")
            table.add(
                "time",
                String(format: "%.2fs", s.seconds)
                    + (s.secondsDeferred > 0 ? String(format: " (%.1fs waiting for idle devices)", s.secondsDeferred) : ""))
            text += table.render() + "\n"
            if let warning = stream.ledgerWarning { text += "warning: \(warning)\n" }
        }
        return text
    }
}

extension SendCommand: IdleWaitingTask {
    static let noun = "send"
    static let idleHelp =
        "Back off before reading from disk while a device of the file system serves other I/O; meanwhile send what that I/O brings into the cache."
    static let deadlineExamples = "2h, 30m"
}

/// One -v/--verbose or -q/--quiet, kept in command-line order: btrfs send's level depends on it
/// (`-q -v` prints "At subvol", `-v -q` prints nothing).
enum SendVerbosity: EnumerableFlag {
    case verbose, quiet

    static func name(for value: SendVerbosity) -> NameSpecification {
        switch value {
        case .verbose: [.customShort("v"), .customLong("verbose")]
        case .quiet: [.customShort("q"), .customLong("quiet")]
        }
    }

    static func help(for value: SendVerbosity) -> ArgumentHelp? {
        switch value {
        case .verbose: "More lines on standard error, as btrfs send prints them (repeatable)."
        case .quiet: "Nothing on standard error but errors (not even \"At subvol\")."
        }
    }
}

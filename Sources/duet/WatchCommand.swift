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

    @Option(
        help:
            "Event source: kernel (the Duet kernel framework, /dev/duet), bpf (eBPF probes), cachestat (polling sweeps: coarse), or auto (kernel when /dev/duet exists, else bpf when the kernel allows it, else cachestat)."
    )
    var source: WatchSourceChoice = .auto

    @Option(help: "Where the ledger lives (default /var/lib/duet/<uuid>); only with a single mount.", completion: .directory)
    var stateDir: String?

    @Option(
        help:
            "Seconds between log lines with event rates and credit; a window in which nothing happened logs nothing. Lost events are logged at once."
    )
    var logInterval: Double = 3600

    @Flag(
        help:
            "Print status lines as JSON (versioned envelopes) on stdout, one each time watch.json is written (every 10 s, or every --log-interval if shorter)."
    )
    var json = false

    func validate() throws {
        if stateDir != nil, mounts.count > 1 {
            throw ValidationError("--state-dir names one file system's directory: give one mount with it")
        }
        if logInterval <= 0 { throw ValidationError("--log-interval must be positive") }
    }

    func run() throws {
        if let reason = source.unavailableReason {
            Terminal.fail("--source \(source.rawValue): \(reason); use --source bpf, cachestat or auto", status: .eventSourceUnavailable)
        }
        try Terminal.requireRoot(for: "duet watch")
        var logger = Logger(label: "duet.watch")
        logger.logLevel = .info
        // Trap the signals before anything starts, so a stop request during start-up is not lost.
        let stop = WatchStopRequest()
        let signals = SignalTrap([SIGINT, SIGTERM]) { stop.request() }
        defer { signals.release() }
        let session = try WatchSession(
            source: source, stateDirectory: stateDir, logInterval: logInterval, stop: stop,
            warn: { [logger] in logger.warning("\($0)") })
        defer { session.stop() }
        for mount in mounts {
            let watched = try session.add(mount: mount)
            logger.info("watching \(mount) (\(watched.fsid)) with \(watched.source), ledger in \(watched.stateDirectory)")
        }
        while let ticks = session.next() {
            for tick in ticks {
                if json {
                    // A tick that cannot be encoded (a non-finite rate) is left out; the next follows within seconds.
                    if let line = try? JSONEnvelope(command: "watch", result: tick.report).render(compact: true) {
                        FileHandle.standardOutput.write(Data((line + "\n").utf8))
                    }
                } else if let summary = tick.logSummary {
                    logger.info("\(tick.mountPath): \(Self.logLine(summary))")
                }
                if tick.rates.lost > 0 {
                    logger.warning(
                        "\(tick.mountPath): \(tick.rates.lost) events lost in the last \(Int(tick.elapsedSeconds)) s: credit for those pages is not recorded (safe), but raise the ring buffer if it persists"
                    )
                }
            }
        }
        logger.info("stopping: settling held pages and flushing the ledger")
    }

    /// The periodic log line: records as the source delivered them (the eBPF source merges runs
    /// of pages into one), then the same events counted per page.
    static func logLine(_ summary: WatchLogSummary) -> String {
        "\(Int(summary.eventsPerSecond)) events/s (\(Int(summary.pageEventsPerSecond)) page events/s) in the last \(Int(summary.seconds.rounded())) s, "
            + "\(summary.lost) lost, \(ByteCount.human(summary.creditedBytes)) credited (\(ByteCount.human(summary.totalCreditedBytes)) since start)"
    }
}

extension WatchSourceChoice: ExpressibleByArgument {}

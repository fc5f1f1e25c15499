import ArgumentParser
import DuetFS
import DuetWatch
import Foundation
import Logging

/// Developer tools, hidden from help: dumps raw tree items so fixtures can be captured from
/// real file systems (scripts/fixtures/make-item-fixtures).
struct DebugCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "debug",
        abstract: "Developer tools (raw tree items, event-source comparison).",
        shouldDisplay: false,
        subcommands: [TreeItemsCommand.self, CompareSourcesCommand.self, LogLineCommand.self]
    )
}

/// Logs one line through the logger every command uses, so tests can check what journald would
/// receive without a file system or root.
struct LogLineCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "log-line", abstract: "Log a message at a level, as the daemons do.")

    @Option(help: "trace, debug, info, notice, warning, error or critical.")
    var level: String = "info"

    @Argument(help: "The message.")
    var message: String

    func run() throws {
        guard let level = Logger.Level(rawValue: level) else { throw ValidationError("--level \(level): not a log level") }
        var logger = Logger(label: "duet.debug")
        logger.logLevel = .trace
        logger.log(level: level, "\(message)")
    }
}

struct TreeItemsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tree-items",
        abstract: "Print every item of a tree as `objectid type offset transid hex`, one per line."
    )

    @Argument(help: "The mount point of a btrfs file system.")
    var mount: String

    @Option(help: "The tree id (1 root, 2 extent, 3 chunk, 4 dev, 5 fs, 7 csum, 256… subvolumes).")
    var tree: UInt64

    func run() throws {
        let fileSystem = try FileSystem(path: mount)
        try Terminal.requireRoot(for: "duet debug tree-items")
        try fileSystem.search(tree: tree).forEach { item in
            let hex = item.data.map { byte in byte < 16 ? "0" + String(byte, radix: 16) : String(byte, radix: 16) }.joined()
            print("\(item.key.objectID) \(item.key.type) \(item.key.offset) \(item.transid) \(hex)")
        }
    }
}

/// `duet debug compare-sources`: the kernel source against the eBPF source on one workload
/// (`SourceComparison` in DuetWatch; scripts/kernel/vm-test runs it in the guest and greps the
/// `DUET-AGREEMENT:` line).
struct CompareSourcesCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "compare-sources",
        abstract: "Count page additions and removals with the kernel and the eBPF source on the same workload; exit 1 unless they agree."
    )

    @Argument(help: "A btrfs mount point; its files are the workload.")
    var mount: String

    @Option(help: "Read-and-evict rounds over all files.")
    var rounds: Int = 3

    @Option(help: "Largest accepted difference, in percent of the larger count.")
    var tolerance: Double = 1

    @Flag(help: "Print the result as JSON.")
    var json = false

    func validate() throws {
        if rounds < 1 { throw ValidationError("--rounds must be at least 1") }
        if tolerance < 0 { throw ValidationError("--tolerance must not be negative") }
    }

    func run() throws {
        try Terminal.requireRoot(for: "duet debug compare-sources")
        let report = try SourceComparison.run(mount: mount, rounds: rounds, tolerance: tolerance)
        if json {
            print(try JSONEnvelope(command: "debug compare-sources", result: report).render())
        } else {
            let kernel = report.kernel, ebpf = report.ebpf
            print(
                String(
                    format:
                        "DUET-AGREEMENT: files=%d rounds=%d expected=%llu added kernel=%llu ebpf=%llu diff=%.3f%% removed kernel=%llu ebpf=%llu diff=%.3f%% lost kernel=%llu ebpf=%llu other-pages kernel=%llu ebpf=%llu agree=%@",
                    report.files, report.rounds, report.expectedPages, kernel.added, ebpf.added, report.addedDifferencePercent,
                    kernel.removed, ebpf.removed, report.removedDifferencePercent, kernel.lost, ebpf.lost,
                    kernel.otherPages, ebpf.otherPages, report.agree ? "yes" : "no"))
            if let status = report.kernelStatus {
                print(
                    "kernel task: events \(status.events), read \(status.read), dropped \(status.dropped) (ring \(status.droppedRing), limit \(status.droppedLimit), nomem \(status.droppedNoMemory), fault \(status.droppedFault)), pending \(status.pending)"
                )
            }
            for problem in report.problems { print("problem: \(problem)") }
        }
        if !report.agree { throw ExitCode(1) }
    }
}

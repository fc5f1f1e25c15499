import ArgumentParser
import DuetFS
import Foundation
import Logging
import Synchronization
import SystemPackage

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

/// Runs the Duet kernel source (`/dev/duet`) and the eBPF source side by side on one workload and
/// checks that they count the same page additions and removals (scripts/kernel/vm-test runs it in
/// the guest). The workload: every regular file under the mount is evicted, then `rounds` times
/// read whole (1 MiB preads) and evicted again (`POSIX_FADV_DONTNEED`). Counts are pages of
/// those files (other inodes, e.g. the btree inode that only the eBPF source reports, are shown
/// apart). Between rounds it waits until the kernel task has nothing pending, so that the
/// event model never folds a page's next addition into an item not yet read.
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

    struct Counts: Codable {
        var added: UInt64 = 0
        var removed: UInt64 = 0
        /// Pages of inodes outside the workload (all kinds).
        var otherPages: UInt64 = 0
        var events: UInt64 = 0
        var lost: UInt64 = 0
        /// (root, inode) pairs of workload files with events, "root:inode".
        var files: Set<String> = []
    }

    /// Counts one source's events: pages of the workload's files by kind, the rest apart.
    final class Tally: Sendable {
        let counts = Mutex(Counts())
        let keys: Set<String>
        let inodes: Set<UInt64>

        init(keys: Set<String>, inodes: Set<UInt64>) {
            self.keys = keys
            self.inodes = inodes
        }

        func ingest(_ events: [CacheEvent]) {
            counts.withLock { counts in
                counts.events += UInt64(events.count)
                for event in events {
                    guard inodes.contains(event.inode), event.inode != CacheEvent.btreeInode else {
                        counts.otherPages += event.pageCount
                        continue
                    }
                    let key = "\(event.root):\(event.inode)"
                    counts.files.insert(keys.contains(key) ? key : "unexpected " + key)
                    switch event.kind {
                    case .added: counts.added += event.pageCount
                    case .removed: counts.removed += event.pageCount
                    default: break
                    }
                }
            }
        }
    }

    struct Report: Codable {
        var rounds: Int
        var files: Int
        var expectedPages: UInt64
        var kernel: Counts
        var ebpf: Counts
        var kernelStatus: KernelTaskStatus?
        var addedDifferencePercent: Double
        var removedDifferencePercent: Double
        var agree: Bool
        var problems: [String]
    }

    struct WorkloadFile {
        var path: String
        var root: UInt64
        var inode: UInt64
        var size: UInt64
    }

    func validate() throws {
        if rounds < 1 { throw ValidationError("--rounds must be at least 1") }
        if tolerance < 0 { throw ValidationError("--tolerance must not be negative") }
    }

    func run() throws {
        try Terminal.requireRoot(for: "duet debug compare-sources")
        if let reason = KernelEventSource.unsupportedReason() { throw DuetError(.unsupported, reason) }
        if let reason = BPFEventSource.unsupportedReason() { throw DuetError(.unsupported, reason) }
        let files = try Self.workload(under: mount)
        guard !files.isEmpty else { throw DuetError(.unsupported, "no regular files under \(mount) to read") }
        let keys = Set(files.map { "\($0.root):\($0.inode)" })
        let inodes = Set(files.map(\.inode))
        let expected = UInt64(rounds) * files.reduce(0) { $0 + ($1.size + pageSize - 1) / pageSize }

        sync()
        for file in files { try Self.evict(file.path) }

        let kernelTally = Tally(keys: keys, inodes: inodes)
        let ebpfTally = Tally(keys: keys, inodes: inodes)
        let kernel = try KernelEventSource(mount: mount, configuration: .init(taskName: "compare-sources"))
        let ebpf = try BPFEventSource(mounts: [mount])
        defer {
            kernel.stop()
            ebpf.stop()
        }
        try ebpf.start(deliver: { ebpfTally.ingest($0) })
        try kernel.start(deliver: { kernelTally.ingest($0) })
        Thread.sleep(forTimeInterval: 0.2)

        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 20, alignment: 4096)
        defer { buffer.deallocate() }
        for _ in 0..<rounds {
            for file in files {
                let descriptor: FileDescriptor
                do { descriptor = try FileDescriptor.open(file.path, .readOnly) } catch { throw DuetError.system("open", file.path, error) }
                defer { descriptor.closeIgnoringErrors() }
                var offset: UInt64 = 0
                while true {
                    let n: Int
                    do { n = try descriptor.read(fully: buffer, at: offset) } catch { throw DuetError.system("pread", file.path, error) }
                    offset += UInt64(n)
                    if n < buffer.count { break }
                }
                let rc = posix_fadvise(descriptor.rawValue, 0, 0, POSIX_FADV_DONTNEED)
                if rc != 0 { throw DuetError.system("posix_fadvise", file.path, errno: rc) }
            }
            try Self.waitUntilRead(kernel)
        }
        Thread.sleep(forTimeInterval: 0.3)   // the eBPF reader drains every 100 ms; stop() drains the rest
        kernel.stop()
        ebpf.stop()
        if let failure = kernel.failure { throw failure }
        if let failure = ebpf.failure { throw failure }

        var kernelResult = kernelTally.counts.withLock { $0 }
        var ebpfResult = ebpfTally.counts.withLock { $0 }
        kernelResult.lost = kernel.statistics.lost
        ebpfResult.lost = ebpf.statistics.lost
        func difference(_ a: UInt64, _ b: UInt64) -> Double {
            let larger = max(a, b)
            return larger == 0 ? 0 : Double(a > b ? a - b : b - a) * 100 / Double(larger)
        }
        let addedDifference = difference(kernelResult.added, ebpfResult.added)
        let removedDifference = difference(kernelResult.removed, ebpfResult.removed)
        var problems: [String] = []
        if kernelResult.added == 0 || ebpfResult.added == 0 || kernelResult.removed == 0 || ebpfResult.removed == 0 {
            problems.append("a source counted no additions or no removals: the workload proved nothing")
        }
        // Each round reads every page of every file after evicting it: both sources must see (nearly) all of them,
        // so that two sources missing the same events cannot agree.
        for (name, counts) in [("kernel", kernelResult), ("eBPF", ebpfResult)] where difference(counts.added, expected) > tolerance {
            problems.append("the \(name) source counted \(counts.added) added pages of the \(expected) the workload read")
        }
        if addedDifference > tolerance { problems.append(String(format: "added pages differ by %.3f%%", addedDifference)) }
        if removedDifference > tolerance { problems.append(String(format: "removed pages differ by %.3f%%", removedDifference)) }
        if kernelResult.files != ebpfResult.files {
            let onlyKernel = kernelResult.files.subtracting(ebpfResult.files).sorted()
            let onlyEBPF = ebpfResult.files.subtracting(kernelResult.files).sorted()
            problems.append("the sources saw different (root:inode) files: only kernel \(onlyKernel), only eBPF \(onlyEBPF)")
        }
        if let unexpected = kernelResult.files.union(ebpfResult.files).first(where: { $0.hasPrefix("unexpected") }) {
            problems.append("events with a root id that does not hold the file: \(unexpected)")
        }
        let report = Report(rounds: rounds, files: files.count, expectedPages: expected, kernel: kernelResult, ebpf: ebpfResult,
                            kernelStatus: kernel.kernelStatus, addedDifferencePercent: addedDifference,
                            removedDifferencePercent: removedDifference, agree: problems.isEmpty, problems: problems)
        if json {
            print(try JSONEnvelope(command: "debug compare-sources", result: report).render())
        } else {
            print(String(format: "DUET-AGREEMENT: files=%d rounds=%d expected=%llu added kernel=%llu ebpf=%llu diff=%.3f%% removed kernel=%llu ebpf=%llu diff=%.3f%% lost kernel=%llu ebpf=%llu other-pages kernel=%llu ebpf=%llu agree=%@",
                         files.count, rounds, expected, kernelResult.added, ebpfResult.added, addedDifference,
                         kernelResult.removed, ebpfResult.removed, removedDifference, kernelResult.lost, ebpfResult.lost,
                         kernelResult.otherPages, ebpfResult.otherPages, problems.isEmpty ? "yes" : "no"))
            if let status = report.kernelStatus {
                print("kernel task: events \(status.events), read \(status.read), dropped \(status.dropped) (ring \(status.droppedRing), limit \(status.droppedLimit), nomem \(status.droppedNoMemory), fault \(status.droppedFault)), pending \(status.pending)")
            }
            for problem in problems { print("problem: \(problem)") }
        }
        if !problems.isEmpty { throw ExitCode(1) }
    }

    /// Regular, non-empty files under `mount` (subvolumes and snapshots included), with their subvolume ids.
    static func workload(under mount: String) throws -> [WorkloadFile] {
        var files: [WorkloadFile] = []
        var directories = [mount]
        while let directory = directories.popLast() {
            for name in try FileManager.default.contentsOfDirectory(atPath: directory) {
                let path = directory + "/" + name
                var info = stat()
                guard lstat(path, &info) == 0 else { continue }
                switch info.st_mode & S_IFMT {
                case S_IFDIR: directories.append(path)
                case S_IFREG where info.st_size > 0:
                    files.append(WorkloadFile(path: path, root: try Subvolumes.id(of: path), inode: UInt64(info.st_ino), size: UInt64(info.st_size)))
                default: break
                }
            }
        }
        return files.sorted { $0.path < $1.path }
    }

    static func evict(_ path: String) throws {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw DuetError.system("open", path) }
        defer { close(fd) }
        let rc = posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED)
        if rc != 0 { throw DuetError.system("posix_fadvise", path, errno: rc) }
    }

    /// Waits until the kernel's per-CPU buffers are drained (10 ms work) and the reader has read every item.
    static func waitUntilRead(_ source: KernelEventSource) throws {
        Thread.sleep(forTimeInterval: 0.05)
        for _ in 0..<500 {
            if let status = source.kernelStatus, status.pending == 0 {
                Thread.sleep(forTimeInterval: 0.02)
                if source.kernelStatus?.pending == 0 { return }
            }
            Thread.sleep(forTimeInterval: 0.01)
        }
        throw DuetError(.unsupported, "the kernel task still has items pending after 5 s: is the reader stuck?")
    }
}

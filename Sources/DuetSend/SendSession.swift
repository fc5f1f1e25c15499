import DuetFS
import Foundation
import Glibc

/// `duet send` end to end for one or more snapshots: metadata pass (kernel send with
/// `NO_FILE_DATA`) → plan (sections, final paths, data pieces and their sources) → emit
/// (header, metadata, data, clones, deferred attributes, END). Like `btrfs send`, several
/// snapshots give several complete streams back to back.
public final class SendSession {
    public struct Options: Sendable {
        /// Read-only snapshots to send, in order.
        public var snapshots: [String]
        /// `-p`: the parent for an incremental send.
        public var parent: String?
        /// `-c`: subvolumes the stream may clone from.
        public var cloneSources: [String] = []
        /// `--proto`: 1 or 2; 0 is the highest this kernel supports.
        public var protocolVersion: UInt32 = 1
        /// `--compressed-data` (v2): compressed extents as `ENCODED_WRITE`, read with
        /// `BTRFS_IOC_ENCODED_READ`.
        public var compressedData = false
        /// `--no-data`: the kernel's metadata-only stream, unchanged.
        public var noData = false
        /// Use the cached pages of the source subvolume's or another snapshot's file (source b).
        public var useOtherCache = true
        /// Learn from page-cache events (eBPF, when available) which pieces became cached while
        /// the send runs; without, remaining pieces are checked with `mincore` now and then.
        public var cacheEvents = true
        /// Credit the data read from disk to the file system's ledger (`DiskReadCredits`).
        public var creditLedger = true
        /// The ledger's directory; nil is `/var/lib/duet/<fsid>`.
        public var ledgerDirectory: String?
        /// `--idle`: wait before disk reads while a device of the file system serves others' I/O,
        /// sending meanwhile what they bring into the cache.
        public var idle = false
        /// With `idle`: wait for idle devices only while the send can still finish by then.
        public var deadline: Date?

        public init(snapshots: [String]) { self.snapshots = snapshots }
    }

    /// Per-snapshot results and the total.
    public struct Report: Codable, Sendable {
        public struct Stream: Codable, Sendable {
            public var snapshot: String
            public var parent: String?
            public var protocolVersion: UInt32
            public var statistics: SendStatistics
            /// Subvolumes whose cached pages the send could use (source b), best first.
            public var otherSources: [String]
            /// Whether page-cache events told the send what became cached while it ran.
            public var cacheEvents: Bool
            /// Why the data read could not be credited to the ledger, if it could not.
            public var ledgerWarning: String?
        }
        public var streams: [Stream] = []
        public var total = SendStatistics()
        public init() {}
    }

    public let options: Options
    public private(set) var report = Report()
    /// Where the stream goes (not owned).
    let output: Int32
    /// `--idle --deadline`: one for the whole send, its clock started with it.
    private let idleDeadline: IdleDeadline?

    public init(options: Options, output: Int32) {
        self.options = options
        self.output = output
        idleDeadline = options.idle ? options.deadline.map { IdleDeadline(end: $0) } : nil
    }

    /// The protocol version `--proto` asks for, resolved against the kernel.
    public static func resolveVersion(_ requested: UInt32, compressed: Bool) throws -> UInt32 {
        let highest = KernelSend.highestVersion()
        let version = requested == 0 ? highest : requested
        guard version <= highest, version <= 2 else {
            throw DuetError(.unsupported, "protocol version \(version) requested, but this kernel sends at most \(min(highest, 2))")
        }
        if compressed && version < 2 {
            throw DuetError(.unsupported, "--compressed-data needs protocol version 2 (--proto 2)")
        }
        return version
    }

    public func run() throws {
        let version = try Self.resolveVersion(options.protocolVersion, compressed: options.compressedData)
        var parent = options.parent
        var cloneRoots: [UInt64] = []
        for source in options.cloneSources {
            cloneRoots.append(try subvolume(source, role: "clone source").id)
        }
        // As btrfs-progs: with -c (or -p) a later snapshot may clone from the ones sent before it,
        // and without -p a parent is chosen among the clone sources.
        let incremental = parent != nil || !options.cloneSources.isEmpty
        for snapshotPath in options.snapshots {
            let snapshot = try subvolume(snapshotPath, role: "snapshot")
            guard snapshot.isReadOnly else {
                throw DuetError(.unsupported, "subvolume \(snapshotPath) is not read-only: send needs a read-only snapshot "
                                + "(`btrfs subvolume snapshot -r`, or `btrfs property set \(snapshotPath) ro true`)")
            }
            var parentRoot: UInt64 = 0
            if let parentPath = parent {
                let info = try subvolume(parentPath, role: "parent")
                parentRoot = info.id
                if !cloneRoots.contains(parentRoot) { cloneRoots.append(parentRoot) }
            } else if incremental, let chosen = try goodParent(for: snapshot, snapshotPath: snapshotPath) {
                parentRoot = chosen.0
                parent = chosen.1
            }
            let stream = try send(snapshotPath: snapshotPath, snapshot: snapshot, parentRoot: parentRoot,
                                  cloneRoots: cloneRoots, version: version)
            report.streams.append(Report.Stream(snapshot: snapshotPath, parent: parent, protocolVersion: version,
                                                statistics: stream.0, otherSources: stream.1, cacheEvents: stream.3, ledgerWarning: stream.2))
            report.total.add(stream.0)
            if incremental && options.parent == nil && !cloneRoots.contains(snapshot.id) { cloneRoots.append(snapshot.id) }
            parent = nil
        }
    }

    private func subvolume(_ path: String, role: String) throws -> Subvolume {
        var status = stat()
        guard stat(path, &status) == 0 else {
            throw DuetError(.notMounted, "cannot open \(role) \(path): \(String(cString: strerror(errno)))")
        }
        guard status.st_ino == 256 || status.st_ino == 2 else {
            throw DuetError(.unsupported, "\(role) \(path) is not a btrfs subvolume")
        }
        do {
            return try Subvolumes.info(path: path)
        } catch let error as DuetError {
            throw DuetError(error.kind, "cannot use \(role) \(path): \(error.message)")
        }
    }

    /// btrfs-progs `find_good_parent`: among the clone sources, the snapshot's own origin or a
    /// sibling snapshot of the same origin with the closest ctransid.
    private func goodParent(for snapshot: Subvolume, snapshotPath: String) throws -> (UInt64, String)? {
        var best: (UInt64, String, UInt64)?
        for source in options.cloneSources {
            let info = try subvolume(source, role: "clone source")
            guard info.uuid == snapshot.parentUUID || (info.parentUUID == snapshot.parentUUID && info.parentUUID.contains { $0 != 0 }) else { continue }
            let distance = info.ctransid > snapshot.ctransid ? info.ctransid - snapshot.ctransid : snapshot.ctransid - info.ctransid
            if best == nil || distance < best!.2 { best = (info.id, source, distance) }
        }
        return best.map { ($0.0, $0.1) }
    }

    /// One complete stream. Returns its statistics, the alias subvolumes looked at, and a ledger warning.
    private func send(snapshotPath: String, snapshot: Subvolume, parentRoot: UInt64, cloneRoots: [UInt64],
                      version: UInt32) throws -> (SendStatistics, [String], String?, Bool) {
        let started = Date()
        let descriptor = open(snapshotPath, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard descriptor >= 0 else { throw DuetError.system("open", snapshotPath) }
        defer { close(descriptor) }
        let request = MetadataStream.Request(snapshot: descriptor, snapshotPath: snapshotPath, parentRoot: parentRoot,
                                             cloneSources: cloneRoots, version: version)
        var statistics = SendStatistics()
        if options.noData {
            let raw = try MetadataStream.capture(request)
            var sink = FileDescriptorByteSink(descriptor: output)
            do {
                try raw.withUnsafeBytes { try sink.write($0) }
            } catch let failure as SendIOFailure {
                throw DuetError.system("write (send stream)", "the output", errno: failure.errno)
            }
            statistics.streamBytes = UInt64(raw.count)
            statistics.seconds = Date().timeIntervalSince(started)
            return (statistics, [], nil, false)
        }
        // Planned as the kernel sends: the stream is never held whole, nor as parsed commands.
        var (plan, streamVersion) = try MetadataStream.read(request) { reader in
            let plan = try StreamPlan.build(next: { try reader.next() }) { inode in
                guard let inode, let path = try? FileSystem.paths(ofInode: inode, inSubvolumeAt: snapshotPath).first else { return nil }
                return SendPath(path)
            }
            guard let version = reader.version else { throw DuetError.malformed("the kernel's send stream of \(snapshotPath) has no header") }
            return (plan, version)
        }

        let fileSystem = try FileSystem(path: snapshotPath)
        let info = try fileSystem.info()
        let aliases = options.useOtherCache ? AliasSubvolume.find(snapshot: snapshot, snapshotPath: snapshotPath, fileSystem: fileSystem) : []
        // Started before the plan looks at residency, so no page that arrives later is missed.
        let arrivals = options.cacheEvents
            ? CacheArrivals.start(mountPath: snapshotPath, roots: Set([snapshot.id] + aliases.map(\.root))) : nil
        defer { arrivals?.stop() }
        var planner = DataPlanner(fileSystem: fileSystem, snapshot: descriptor, snapshotPath: snapshotPath, root: snapshot.id, aliases: aliases)
        planner.encoded = options.compressedData
        let pieces = try planner.plan(plan.takeData())

        var writer = SendStreamWriter(sink: FileDescriptorByteSink(descriptor: output), version: streamVersion)
        var emitter = DataEmitter(checksums: ChecksumIndex(fileSystem: fileSystem, info: info), snapshotPath: snapshotPath)
        emitter.encodedWrites = options.compressedData
        emitter.arrivals = arrivals
        emitter.snapshotRoot = snapshot.id
        emitter.aliases = aliases
        if options.idle { emitter.idle = IdleWait(devices: try fileSystem.devices().map(\.path), deadline: idleDeadline) }
        do {
            try writer.writeHeader()
            for command in plan.metadata { try writer.write(command) }
            for item in plan.ordered {
                switch item {
                case .command(let command): try writer.write(command)
                case .data(let range): try emitter.emit(try planner.plan([range]), files: planner.files, to: &writer)
                }
            }
            try emitter.emit(consume pieces, files: planner.files, to: &writer)
            for command in plan.clones { try writer.write(command) }
            for command in plan.deferred { try writer.write(command) }
            try writer.writeEnd()
        } catch let error as SendStreamError {
            if case .io(let code, let offset) = error {
                throw DuetError(.system(errno: code), "writing the send stream of \(snapshotPath) failed at stream offset \(offset): \(String(cString: strerror(code)))")
            }
            throw DuetError.malformed("send stream of \(snapshotPath): \(error)")
        }
        statistics = emitter.statistics
        var ledgerWarning: String?
        if options.creditLedger {
            // The stream is complete; a ledger problem costs a later scrub some skipping, nothing more.
            do {
                let recorder = try LedgerRecorder(fileSystem: info.fsid, directory: options.ledgerDirectory)
                let outcome = try emitter.diskReads.record(fileSystem: fileSystem, checksums: ChecksumIndex(fileSystem: fileSystem, info: info),
                                                          recorder: recorder)
                statistics.bytesCredited = outcome.bytesCredited
            } catch {
                ledgerWarning = "data read from disk was not credited to the ledger: \(error)"
            }
        }
        statistics.commands = writer.commandCount
        statistics.streamBytes = writer.offset
        statistics.seconds = Date().timeIntervalSince(started)
        return (statistics, aliases.map(\.path), ledgerWarning, arrivals != nil)
    }

    /// After a failure: bytes that make every receiver fail (half a command header), so a cut
    /// stream on a pipe cannot be taken for a complete one even by receivers that accept a
    /// missing END.
    public static let cutMarker: [UInt8] = [0xFF, 0xFF, 0xFF, 0x7F, 0x00]
}

import DuetFS
import Foundation
import Glibc
import SystemPackage

/// `duet send` end to end for one or more snapshots: metadata pass (kernel send with
/// `NO_FILE_DATA`) → plan (sections, final paths, data pieces and their sources) → emit
/// (header, metadata, data, clones, deferred attributes, END). Like `btrfs send`, several
/// snapshots give several complete streams back to back, or with `-e` one stream: the header
/// before the first snapshot only and one END after the last (what `btrfs receive -e` reads).
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
        /// `-e`: several snapshots as one stream, with END only after the last (btrfs-progs
        /// passes `OMIT_STREAM_HEADER` to every send but the first, `OMIT_END_CMD` to every one
        /// but the last).
        public var omitEndBetween = false
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
    /// The lines `btrfs send` prints on stderr ("At subvol X" before each snapshot's stream);
    /// silent unless the caller sets a verbosity.
    public var log = SendLog()
    /// Whether any byte of the stream was written (a failure before that leaves the output empty).
    public private(set) var streamStarted = false
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
            // What btrfs send reports here: the kernel's EPROTO for the version it was passed.
            throw SendPreflight.unsupportedVersion()
        }
        if compressed && version < 2 {
            throw DuetError(.unsupported, "--compressed-data needs protocol version 2 (--proto 2)")
        }
        return version
    }

    public func run() throws {
        var parent = options.parent
        var cloneRoots: [UInt64] = []
        // The paths the user gave for clone sources and sent snapshots, for the report.
        var givenPaths: [UInt64: String] = [:]
        for source in options.cloneSources {
            let id = try subvolume(source, role: "clone source").id
            cloneRoots.append(id)
            givenPaths[id] = givenPaths[id] ?? source
        }
        // As btrfs-progs: with -c (or -p) a later snapshot may clone from the ones sent before it,
        // and without -p a parent is chosen among the clone sources.
        let incremental = parent != nil || !options.cloneSources.isEmpty
        var version: UInt32 = 0
        for (index, snapshotPath) in options.snapshots.enumerated() {
            // As btrfs send: the line goes out before the snapshot's stream, and an unsupported
            // version fails after it, where the kernel would refuse.
            log.line(.standard, "At subvol \(snapshotPath)")
            if index == 0 { version = try Self.resolveVersion(options.protocolVersion, compressed: options.compressedData) }
            let snapshot = try subvolume(snapshotPath, role: "snapshot")
            guard snapshot.isReadOnly else {
                throw DuetError(
                    .unsupported,
                    "subvolume \(snapshotPath) is not read-only: send needs a read-only snapshot "
                        + "(`btrfs subvolume snapshot -r`, or `btrfs property set \(snapshotPath) ro true`)")
            }
            var parentRoot: UInt64 = 0
            if let parentPath = parent {
                let info = try subvolume(parentPath, role: "parent")
                parentRoot = info.id
                if !cloneRoots.contains(parentRoot) { cloneRoots.append(parentRoot) }
            } else if incremental {
                let chosen = try goodParent(for: snapshot, snapshotPath: snapshotPath, among: cloneRoots)
                parentRoot = chosen.id
                parent = givenPaths[chosen.id] ?? chosen.path
            }
            let framing = Framing(
                header: !options.omitEndBetween || index == 0,
                end: !options.omitEndBetween || index == options.snapshots.count - 1)
            let stream = try send(
                snapshotPath: snapshotPath, snapshot: snapshot, parentRoot: parentRoot,
                cloneRoots: cloneRoots, version: version, framing: framing)
            log.line(.info, "BTRFS_IOC_SEND returned 0")
            log.line(.debug, "joining genl thread")
            report.streams.append(
                Report.Stream(
                    snapshot: snapshotPath, parent: parent, protocolVersion: version,
                    statistics: stream.0, otherSources: stream.1, cacheEvents: stream.3, ledgerWarning: stream.2))
            report.total.add(stream.0)
            if incremental && options.parent == nil && !cloneRoots.contains(snapshot.id) { cloneRoots.append(snapshot.id) }
            givenPaths[snapshot.id] = givenPaths[snapshot.id] ?? snapshotPath
            // -p is every snapshot's parent; a chosen one is chosen again for the next.
            parent = options.parent
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

    /// btrfs-progs `find_good_parent`: the snapshot's origin (the subvolume it was snapshotted
    /// from) if it is a clone source, else the clone source snapshotted from the same origin
    /// whose ctransid is closest to the origin's (the first of equals); clone sources include
    /// the snapshots sent before this one. Fails as btrfs send does when there is none.
    private func goodParent(for snapshot: Subvolume, snapshotPath: String, among roots: [UInt64]) throws -> (id: UInt64, path: String) {
        let refusal = SendRefusal("parent determination failed for \(snapshot.id)")
        // The iterator lists what is below the top level; a snapshot of the top level has it as origin.
        let all = try Subvolumes.list(mountPath: snapshotPath) + [try Subvolumes.info(path: snapshotPath, id: Subvolumes.topLevelID)]
        guard snapshot.parentUUID.contains(where: { $0 != 0 }),
            let origin = all.first(where: { $0.uuid == snapshot.parentUUID })
        else { throw refusal }
        if roots.contains(origin.id) { return (origin.id, origin.path) }
        var best: (Subvolume, UInt64)?
        for root in roots {
            guard let source = all.first(where: { $0.id == root }), source.parentUUID == origin.uuid else { continue }
            let distance = source.ctransid > origin.ctransid ? source.ctransid - origin.ctransid : origin.ctransid - source.ctransid
            if best == nil || distance < best!.1 { best = (source, distance) }
        }
        guard let best else { throw refusal }
        return (best.0.id, best.0.path)
    }

    /// Whether one snapshot's part of the output starts with the stream header and ends with END.
    struct Framing {
        var header: Bool
        var end: Bool
    }

    /// One snapshot's stream. Returns its statistics, the alias subvolumes looked at, and a ledger warning.
    private func send(
        snapshotPath: String, snapshot: Subvolume, parentRoot: UInt64, cloneRoots: [UInt64],
        version: UInt32, framing: Framing
    ) throws -> (SendStatistics, [String], String?, Bool) {
        let started = Date()
        let directory: FileDescriptor
        do {
            directory = try FileDescriptor.open(snapshotPath, .readOnly, options: .directory)
        } catch {
            throw DuetError.system("open", snapshotPath, error)
        }
        defer { directory.closeIgnoringErrors() }
        let descriptor = directory.rawValue
        // --no-data passes the kernel's stream on as it is, so the kernel frames it; otherwise the
        // metadata is parsed (it needs its header) and the writer frames the output.
        var kernelFlags: KernelSend.Flags = []
        if options.noData && !framing.header { kernelFlags.insert(.omitStreamHeader) }
        if options.noData && !framing.end { kernelFlags.insert(.omitEndCommand) }
        let request = MetadataStream.Request(
            snapshot: descriptor, snapshotPath: snapshotPath, parentRoot: parentRoot,
            cloneSources: cloneRoots, version: version, flags: kernelFlags)
        var statistics = SendStatistics()
        if options.noData {
            let raw = try MetadataStream.capture(request)
            var sink = FileDescriptorByteSink(descriptor: output)
            streamStarted = true
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
        ProcessMemory.mapLargeBlocks()
        var (plan, streamVersion) = try MetadataStream.read(request) { reader in
            let plan = try StreamPlan.build(next: { try reader.next() }) { inode in
                // No name in the snapshot: the plan refuses a command that needs one (noFinalPath).
                guard let inode, let path = try? FileSystem.paths(ofInode: inode, inSubvolumeAt: snapshotPath).first else { return nil }
                return SendPath(path)
            }
            guard let version = reader.version else {
                throw DuetError.malformed("the kernel's send stream of \(snapshotPath) has no header")
            }
            return (plan, version)
        }

        // The path tracker is gone: its pages go back before the data plan grows.
        ProcessMemory.returnFreePages()
        let fileSystem = try FileSystem(path: snapshotPath)
        let info = try fileSystem.info()
        let aliases =
            options.useOtherCache ? AliasSubvolume.find(snapshot: snapshot, snapshotPath: snapshotPath, fileSystem: fileSystem) : []
        // Started before the plan looks at residency, so no page that arrives later is missed.
        let arrivals =
            options.cacheEvents
            ? CacheArrivals.start(mountPath: snapshotPath, roots: Set([snapshot.id] + aliases.map(\.root))) : nil
        defer { arrivals?.stop() }
        var planner = DataPlanner(
            fileSystem: fileSystem, snapshot: descriptor, snapshotPath: snapshotPath, root: snapshot.id, aliases: aliases)
        planner.encoded = options.compressedData
        let pieces = try planner.plan(plan.takeData())

        var writer = SendStreamWriter(sink: FileDescriptorByteSink(descriptor: output), version: streamVersion)
        var emitter = DataEmitter(checksums: ChecksumIndex(fileSystem: fileSystem, info: info), snapshotPath: snapshotPath)
        emitter.encodedWrites = options.compressedData
        emitter.arrivals = arrivals
        emitter.snapshotRoot = snapshot.id
        emitter.aliases = aliases
        if options.idle { emitter.idle = IdleWait(devices: try fileSystem.devices().map(\.path), deadline: idleDeadline) }
        streamStarted = true
        do {
            if framing.header { try writer.writeHeader() } else { writer.continueAfterHeader() }
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
            if framing.end { try writer.writeEnd() }
        } catch let error as SendStreamError {
            if case .io(let code, let offset) = error {
                throw DuetError(
                    .system(errno: code),
                    "writing the send stream of \(snapshotPath) failed at stream offset \(offset): \(String(cString: strerror(code)))")
            }
            throw DuetError.malformed("send stream of \(snapshotPath): \(error)")
        }
        statistics = emitter.statistics
        var ledgerWarning: String?
        if options.creditLedger {
            // The stream is complete; a ledger problem costs a later scrub some skipping, nothing more.
            do {
                let recorder = try LedgerRecorder(fileSystem: info.fsid, directory: options.ledgerDirectory)
                let outcome = try emitter.diskReads.record(
                    fileSystem: fileSystem, checksums: ChecksumIndex(fileSystem: fileSystem, info: info),
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

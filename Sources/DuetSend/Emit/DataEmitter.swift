import DuetFS
import Glibc
import SystemPackage

/// What a send did, for the summary and `--json`.
public struct SendStatistics: Codable, Sendable, Equatable {
    /// File data taken from the snapshot's own cached pages.
    public var bytesFromOwnCache: UInt64 = 0
    /// File data taken from another inode's cached pages (checksum-verified).
    public var bytesFromOtherCache: UInt64 = 0
    /// File data read from the snapshot that was not cached.
    public var bytesFromDisk: UInt64 = 0
    /// Zeros sent for holes and preallocated ranges, read from nowhere.
    public var zeroBytes: UInt64 = 0
    /// Bytes another inode offered whose checksums did not match (then read from disk).
    public var otherCacheRejectedBytes: UInt64 = 0
    /// Disk pieces that became cached while the send ran and were moved ahead of the queue.
    public var movedAhead: UInt64 = 0
    /// `--idle`: seconds spent waiting for the devices to fall idle before disk reads.
    public var secondsDeferred: Double = 0
    /// Data read from disk that was credited to the ledger (`duet scrub` then skips it).
    public var bytesCredited: UInt64 = 0
    public var commands = 0
    public var streamBytes: UInt64 = 0
    public var seconds: Double = 0

    public init() {}

    /// The names in `duet send --json`, those of every `--json` output: byte counts end in
    /// `Bytes`, durations in `Seconds` (the README's JSON reference).
    enum CodingKeys: String, CodingKey {
        case bytesFromOwnCache = "ownCacheBytes", bytesFromOtherCache = "otherCacheBytes", bytesFromDisk = "diskBytes"
        case zeroBytes, otherCacheRejectedBytes, movedAhead, secondsDeferred = "deferredSeconds"
        case bytesCredited = "creditedBytes", commands, streamBytes, seconds = "elapsedSeconds"
    }

    public mutating func add(_ other: SendStatistics) {
        bytesFromOwnCache += other.bytesFromOwnCache
        bytesFromOtherCache += other.bytesFromOtherCache
        bytesFromDisk += other.bytesFromDisk
        zeroBytes += other.zeroBytes
        otherCacheRejectedBytes += other.otherCacheRejectedBytes
        movedAhead += other.movedAhead
        secondsDeferred += other.secondsDeferred
        bytesCredited += other.bytesCredited
        commands += other.commands
        streamBytes += other.streamBytes
        seconds += other.seconds
    }
}

/// A file of the snapshot could not be read: names the file and the offset.
public struct DataReadError: Error, CustomStringConvertible, Sendable {
    public var path: String
    public var offset: UInt64
    public var errno: Int32

    public var description: String {
        "reading \(path) at offset \(offset) failed: \(String(cString: strerror(errno)))"
            + (errno == EIO ? " (a damaged extent: run `btrfs scrub` or `duet scrub` on the file system)" : "")
    }
}

/// Emit stage of the data: `WRITE` commands with final paths, in the order that reads least
/// from disk: zeros and the snapshot's cached pages, then verified pages of another inode,
/// then the rest sorted by disk address. Pages the send itself brought into the snapshot's
/// cache are dropped again (`POSIX_FADV_DONTNEED`), as the kernel's send does.
public struct DataEmitter {
    public private(set) var statistics = SendStatistics()
    let checksums: ChecksumIndex
    let snapshotPath: String
    /// The largest single read.
    public var readSize = 1 << 20
    /// `--compressed-data`: compressed extents go out as `ENCODED_WRITE` where the kernel's
    /// send would do so (the range is at least as long as the compressed bytes).
    public var encodedWrites = false
    /// Uncompressed snapshot data this emitter read from disk (logical addresses), to credit.
    public private(set) var diskReads = DiskReadCredits()
    /// Without events: how many bytes of disk reads pass between two `mincore` looks at every
    /// remaining piece for newly cached ones.
    public var rescanInterval: UInt64 = 64 << 20
    /// With events: how many bytes of disk reads pass between two looks at what arrived.
    public var arrivalInterval: UInt64 = 4 << 20
    /// Pages entering the cache while the send runs (nil: poll with `mincore` instead).
    public var arrivals: CacheArrivals?
    /// The snapshot's root id, and the subvolumes that may share its extents (source b).
    public var snapshotRoot: UInt64 = 0
    public var aliases: [AliasSubvolume] = []
    /// How far ahead of the read position readahead is requested, in bytes. Everything requested
    /// sits in the device queue ahead of the foreground's next read: 32 MiB on a 50 MiB/s disk
    /// raised the foreground's p99 latency to about 650 ms (the kernel's send: about 90 ms).
    public var readAheadWindow: UInt64 = 4 << 20
    /// `--idle`: before each disk read, wait while a device serves others' I/O, sending meanwhile
    /// what they bring into the cache (no readahead then: it would read ahead of the wait).
    public var idle: IdleWait?

    public init(checksums: ChecksumIndex, snapshotPath: String) {
        self.checksums = checksums
        self.snapshotPath = snapshotPath
    }

    /// Sends `pieces` in `EmitQueue` order, reading the snapshot's files through `files`
    /// (opened when their data is read, a few at a time).
    public mutating func emit<Sink: SendByteSink>(
        _ pieces: consuming PlannedPieces, files: SnapshotDescriptors,
        to writer: inout SendStreamWriter<Sink>
    ) throws {
        var buffer = [UInt8](repeating: 0, count: readSize)
        // Consumed: the queue's arrays replace the caller's, not add to them.
        var queue = EmitQueue(consume pieces)
        // Arrivals before the disk phase: drained as the cached phases go, or every page those
        // phases read (half a million inline files at a million files) would wait in the hub
        // until the disk phase; the send's own reads are dropped, the rest kept for it.
        var early = EarlyArrivals()
        for (position, piece) in queue.cached.enumerated() {
            if let arrivals, position % 4096 == 4095 {
                // This batch and the one before: events of a read can come after the next fetch.
                early.take(arrivals, ownReads: queue.cached[max(0, position - 8191)...position], root: snapshotRoot)
            }
            if piece.source == .zeros {
                try writeZeros(piece, files: files, to: &writer)
                continue
            }
            let descriptor = try files.descriptor(of: piece.file)
            if case .inline = piece.backing {
                try copyInline(piece, from: descriptor, files: files, buffer: &buffer, to: &writer)
                continue
            }
            let (cached, evicted) = Self.splitByResidency(piece, descriptor: descriptor)
            evicted.forEach { queue.demote($0) }
            for part in cached {
                try copy(part, from: try files.descriptor(of: part.file), files: files, buffer: &buffer, to: &writer)
                statistics.bytesFromOwnCache += UInt64(part.range.count)
            }
        }
        for piece in queue.otherCache {
            guard let aliasFile = piece.alias?.file(inode: piece.inode) else {
                queue.demote(piece.onDisk())
                continue
            }
            let (cached, evicted) = Self.splitByResidency(piece, descriptor: aliasFile.descriptor)
            evicted.forEach { queue.demote($0) }
            for part in cached {
                if try copyVerified(part, files: files, to: &writer) {
                    statistics.bytesFromOtherCache += UInt64(part.range.count)
                } else {
                    statistics.otherCacheRejectedBytes += UInt64(part.range.count)
                    queue.demote(part.onDisk())
                }
            }
        }
        if let arrivals { early.take(arrivals, ownReads: queue.cached.suffix(queue.cached.count % 4096 + 4096), root: snapshotRoot) }
        queue.startDisk()
        if arrivals != nil {
            if early.overflowed {
                try moveAhead(&queue, from: 0, files: files, arrived: nil)
            } else if !early.arrived.isEmpty {
                try moveAhead(&queue, from: 0, files: files, arrived: early.arrived)
            }
        }
        var advisedBytes: UInt64 = 0
        var readSinceLook: UInt64 = 0
        let readAhead = idle == nil ? readAheadWindow : 0
        // Bytes still queued, for what a deadline projects (moves within the queue keep it).
        var queued = idle?.deadline == nil ? 0 : queue.remainingBytes
        while queue.hasNext {
            // Pieces someone else has since brought into the cache move ahead of the rest of the
            // queue, before they are evicted again: those whose pages the events report, or, without
            // events, every remaining piece `mincore` finds cached, looked at less often.
            if queue.nextToLookAt != nil {
                if let arrivals, readSinceLook >= arrivalInterval {
                    readSinceLook = 0
                    try takeArrivals(arrivals, &queue, from: queue.advised, files: files)
                } else if arrivals == nil, readSinceLook >= rescanInterval {
                    readSinceLook = 0
                    try moveAhead(&queue, from: queue.advised, files: files, arrived: nil)
                }
            }
            if let idle, try deferWhileBusy(idle, &queue, queued: queued, files: files) {
                continue  // what arrived meanwhile goes first
            }
            while let next = queue.nextToLookAt, queue.advised == queue.index || advisedBytes < readAhead {
                var cached = false
                if next.source == .disk, !isEncoded(next) {
                    let descriptor = try files.descriptor(of: next.file)
                    if PageResidency.isResident(descriptor: descriptor, range: next.range) {
                        cached = true
                    } else {
                        _ = posix_fadvise(descriptor, off_t(next.range.lowerBound), off_t(next.range.count), POSIX_FADV_WILLNEED)
                        advisedBytes += UInt64(next.range.count)
                    }
                }
                queue.lookedAt(cached: cached)
            }
            var (piece, foundCached) = queue.next()
            // Found cached when it was looked at, and still: pages found cached a moment ago may
            // have left the cache since, and reading them is a disk read like any other.
            let wasCached = try foundCached && PageResidency.isResident(descriptor: files.descriptor(of: piece.file), range: piece.range)
            if let deadline = idle?.deadline {
                queued -= min(queued, UInt64(piece.range.count))
                deadline.recordWork(UInt64(piece.range.count))
            }
            if piece.source == .otherCache {
                if let aliasFile = piece.alias?.file(inode: piece.inode),
                    PageResidency.isResident(descriptor: aliasFile.descriptor, range: piece.range)
                {
                    if try copyVerified(piece, files: files, to: &writer) {
                        statistics.bytesFromOtherCache += UInt64(piece.range.count)
                        continue
                    }
                    statistics.otherCacheRejectedBytes += UInt64(piece.range.count)
                }
                piece = piece.onDisk()
            }
            if isEncoded(piece), try writeEncoded(piece, files: files, to: &writer) {
                readSinceLook += UInt64(piece.range.count)
                continue
            }
            try copy(piece, from: try files.descriptor(of: piece.file), files: files, buffer: &buffer, to: &writer)
            if wasCached {
                statistics.bytesFromOwnCache += UInt64(piece.range.count)
                continue
            }
            statistics.bytesFromDisk += UInt64(piece.range.count)
            if case .plain(let logical) = piece.backing {
                diskReads.add(logical: logical..<(logical + UInt64(piece.range.count)))
            }
            readSinceLook += UInt64(piece.range.count)
            advisedBytes -= min(advisedBytes, UInt64(piece.range.count))
            _ = posix_fadvise(
                try files.descriptor(of: piece.file), off_t(piece.range.lowerBound), off_t(piece.range.count), POSIX_FADV_DONTNEED)
        }
    }

    /// Moves the pieces whose pages arrived since the last look to `from` (all remaining pieces
    /// are looked at if the events overflowed), leaving out the send's own reads in flight.
    private mutating func takeArrivals(
        _ arrivals: CacheArrivals, _ queue: inout EmitQueue, from: Int,
        files: SnapshotDescriptors
    ) throws {
        let arrived = Self.withoutOwnReads(arrivals.fetch(), reading: queue.inFlight, root: snapshotRoot)
        if arrivals.overflowed() {
            try moveAhead(&queue, from: from, files: files, arrived: nil)
        } else if !arrived.isEmpty {
            try moveAhead(&queue, from: from, files: files, arrived: arrived)
        }
    }

    /// `--idle`: waits while a device serves others' I/O before `disk[index]` is read from disk,
    /// at most `IdleMonitor.maximumWait` (a device never idle still sees one read per wait), and
    /// with a deadline at most what leaves time for the `queued` bytes still to send.
    /// Meanwhile pieces whose pages arrive in the cache move to `index`; true when some did, so
    /// the loop sends them first and asks again. No readahead is outstanding here (`readAhead`
    /// is 0), so `index` is also where moved pieces belong.
    private mutating func deferWhileBusy(
        _ idle: IdleWait, _ queue: inout EmitQueue, queued: UInt64,
        files: SnapshotDescriptors
    ) throws -> Bool {
        let piece = queue.disk[queue.index]
        guard piece.source == .disk,
            try isEncoded(piece) || !PageResidency.isResident(descriptor: files.descriptor(of: piece.file), range: piece.range)
        else {
            return false
        }
        let poll: UInt32 = 100_000
        let limit = min(IdleMonitor.maximumWait, idle.deadline?.slack(remaining: queued) ?? IdleMonitor.maximumWait)
        let polls = Int(limit * 1_000_000) / Int(poll)
        var waited = 0
        defer { statistics.secondsDeferred += Double(waited) * Double(poll) / 1_000_000 }
        while waited < polls, idle.busy() {
            usleep(poll)
            waited += 1
            let moved = statistics.movedAhead
            if let arrivals {
                try takeArrivals(arrivals, &queue, from: queue.index, files: files)
            } else if waited % 10 == 0 {
                try moveAhead(&queue, from: queue.index, files: files, arrived: nil)
            }
            if statistics.movedAhead != moved { return true }
        }
        return false
    }

    /// The parts of a piece planned from the cache that `descriptor` still has cached, and the
    /// rest as disk pieces. Pages cached when the send planned may have left the cache since (the
    /// foreground's memory is not the send's to keep); read through the cache, they would come
    /// from disk out of disk order and be counted as cache. A compressed piece is decompressed
    /// whole from its extent, so it stays cached only if all its pages are.
    static func splitByResidency(_ piece: DataPiece, descriptor: Int32) -> (cached: [DataPiece], evicted: [DataPiece]) {
        let runs = PageResidency.runs(descriptor: descriptor, range: piece.range)
        if runs.allSatisfy({ $0.1 }) { return ([piece], []) }
        guard case .plain = piece.backing else { return ([], [piece.onDisk()]) }
        var cached: [DataPiece] = []
        var evicted: [DataPiece] = []
        for (part, resident) in runs {
            if resident { cached.append(piece.cut(to: part)) } else { evicted.append(piece.cut(to: part).onDisk()) }
        }
        return (cached, evicted)
    }

    /// `arrived` without the snapshot pages of the pieces being read or handed to readahead: the
    /// send's own reads come back as arrivals, and `moveAhead` only looks past them anyway, so
    /// dropping them first spares it a pass over the whole queue every few megabytes.
    static func withoutOwnReads(
        _ arrived: [InodeKey: [Range<UInt64>]], reading: ArraySlice<DataPiece>,
        root: UInt64
    ) -> [InodeKey: [Range<UInt64>]] {
        guard !arrived.isEmpty else { return arrived }
        var own: [UInt64: ExtentSet] = [:]
        for piece in reading {
            own[piece.inode, default: ExtentSet()].insert(piece.range.lowerBound / 4096..<(piece.range.upperBound + 4095) / 4096)
        }
        var left: [InodeKey: [Range<UInt64>]] = [:]
        for (key, pages) in arrived {
            guard key.root == root, let mine = own[key.inode] else {
                left[key] = pages
                continue
            }
            let rest = pages.flatMap { mine.gaps(in: $0) }
            if !rest.isEmpty { left[key] = rest }
        }
        return left
    }

    /// Moves the pieces of the queue from `from` on that are now cached to `from`, keeping the
    /// rest in disk order. With `arrived` (pages added per file, from events) only pieces those
    /// pages touch are looked at, and a piece partly cached is split; the snapshot's own pages are
    /// taken as they are, an alias subvolume's become `otherCache` pieces (verified when copied).
    /// Without `arrived`, every remaining piece is checked whole against the snapshot's cache.
    private mutating func moveAhead(
        _ queue: inout EmitQueue, from: Int, files: SnapshotDescriptors,
        arrived: [InodeKey: [Range<UInt64>]]?
    ) throws {
        var failure: Error?
        let moved = queue.moveAhead(from: from) { piece in
            guard failure == nil, piece.source == .disk, !isEncoded(piece) else { return nil }
            // Most pieces have no arrival at all: answer them without a split's arrays.
            if let arrived, arrived[InodeKey(root: snapshotRoot, inode: piece.inode)] == nil,
                !aliases.contains(where: { arrived[InodeKey(root: $0.root, inode: piece.inode)] != nil })
            {
                return nil
            }
            do {
                let parts = try split(piece, files: files, arrived: arrived)
                return parts.ahead.isEmpty ? nil : parts
            } catch {
                failure = error
                return nil
            }
        }
        if let failure { throw failure }
        statistics.movedAhead += UInt64(moved)
    }

    /// The parts of a disk piece that are cached now (see `moveAhead`) and the rest.
    private func split(
        _ piece: DataPiece, files: SnapshotDescriptors,
        arrived: [InodeKey: [Range<UInt64>]]?
    ) throws -> (ahead: [DataPiece], behind: [DataPiece]) {
        guard let arrived else {
            let resident = PageResidency.isResident(descriptor: try files.descriptor(of: piece.file), range: piece.range)
            return resident ? ([piece], []) : ([], [piece])
        }
        let pages = piece.range.lowerBound / 4096..<(piece.range.upperBound + 4095) / 4096
        func touched(_ root: UInt64) -> Bool {
            arrived[InodeKey(root: root, inode: piece.inode)]?.contains { $0.overlaps(pages) } ?? false
        }
        var ahead: [DataPiece] = []
        var rest = [piece]
        if touched(snapshotRoot) {
            rest = []
            for (part, resident) in PageResidency.runs(descriptor: try files.descriptor(of: piece.file), range: piece.range) {
                let cut = piece.cut(to: part)
                if resident { ahead.append(cut) } else { rest.append(cut) }
            }
        }
        if case .plain = piece.backing {
            for alias in aliases where !rest.isEmpty && touched(alias.root) {
                guard let aliasFile = alias.file(inode: piece.inode) else { continue }
                var still: [DataPiece] = []
                for candidate in rest {
                    guard case .plain(let logical) = candidate.backing,
                        aliasFile.extents?.plainLogical(of: candidate.range) == logical
                    else {
                        still.append(candidate)
                        continue
                    }
                    for (part, resident) in PageResidency.runs(descriptor: aliasFile.descriptor, range: candidate.range) {
                        var cut = candidate.cut(to: part)
                        if resident {
                            cut.source = .otherCache
                            cut.alias = alias
                            ahead.append(cut)
                        } else {
                            still.append(cut)
                        }
                    }
                }
                rest = still
            }
        }
        return (ahead, rest)
    }

    /// Whether `piece` goes out as `ENCODED_WRITE` (read encoded, never through the cache).
    private func isEncoded(_ piece: DataPiece) -> Bool {
        guard encodedWrites, case .compressed(_, let diskBytes) = piece.backing else { return false }
        return diskBytes <= UInt64(piece.range.count)
    }

    /// `ENCODED_WRITE` of the extent's stored bytes (`send_encoded_extent` in send.c), read with
    /// `BTRFS_IOC_ENCODED_READ`; false if the extent turned out not to be encoded as planned.
    private mutating func writeEncoded<Sink: SendByteSink>(
        _ piece: DataPiece, files: SnapshotDescriptors,
        to writer: inout SendStreamWriter<Sink>
    ) throws -> Bool {
        let path = files.table.path(piece.file)
        let subject = snapshotPath + "/" + path.description
        let extent: EncodedExtent
        do {
            extent = try EncodedRead.read(descriptor: files.descriptor(of: piece.file), offset: piece.range.lowerBound, subject: subject)
        } catch let error as DuetError where error.errno == EIO {
            throw DataReadError(path: subject, offset: piece.range.lowerBound, errno: EIO)
        }
        guard extent.compression != 0, extent.encryption == 0, extent.fileLength == UInt64(piece.range.count) else { return false }
        try writer.write(
            SendCommand(
                .encodedWrite,
                [
                    .path(.path, path),
                    .u64(.fileOffset, piece.range.lowerBound),
                    .u64(.unencodedFileLength, extent.fileLength),
                    .u64(.unencodedLength, extent.unencodedLength),
                    .u64(.unencodedOffset, extent.unencodedOffset),
                    .u32(.compression, extent.compression),
                    .u32(.encryption, extent.encryption),
                    .data(extent.bytes)
                ]))
        statistics.commands += 1
        statistics.bytesFromDisk += UInt64(extent.bytes.count)
        return true
    }

    private mutating func writeZeros<Sink: SendByteSink>(
        _ piece: DataPiece, files: SnapshotDescriptors,
        to writer: inout SendStreamWriter<Sink>
    ) throws {
        let path = files.table.path(piece.file)
        let zeros = [UInt8](repeating: 0, count: min(readSize, piece.range.count))
        var position = piece.range.lowerBound
        while position < piece.range.upperBound {
            let count = Int(min(UInt64(zeros.count), piece.range.upperBound - position))
            try zeros.withUnsafeBytes { raw in
                statistics.commands += try writer.writeData(
                    path: path, fileOffset: position,
                    data: UnsafeRawBufferPointer(rebasing: raw[0..<count]))
            }
            position += UInt64(count)
        }
        statistics.zeroBytes += UInt64(piece.range.count)
    }

    /// An inline extent's bytes live in the metadata leaf the kernel's metadata pass has just
    /// read, not in a data extent: there is no disk address to sort them by, and queueing the
    /// uncached ones behind the disk phase (half a million pieces at a million files) doubled
    /// that phase's array and its sort buffer, the send's peak memory. Sent here, counted as
    /// the disk phase would count them, and dropped from the cache again if the read put them
    /// there.
    private mutating func copyInline<Sink: SendByteSink>(
        _ piece: DataPiece, from descriptor: Int32, files: SnapshotDescriptors,
        buffer: inout [UInt8], to writer: inout SendStreamWriter<Sink>
    ) throws {
        let wasCached = PageResidency.isResident(descriptor: descriptor, range: piece.range)
        try copy(piece, from: descriptor, files: files, buffer: &buffer, to: &writer)
        if wasCached {
            statistics.bytesFromOwnCache += UInt64(piece.range.count)
        } else {
            statistics.bytesFromDisk += UInt64(piece.range.count)
            _ = posix_fadvise(descriptor, off_t(piece.range.lowerBound), off_t(piece.range.count), POSIX_FADV_DONTNEED)
        }
    }

    private mutating func copy<Sink: SendByteSink>(
        _ piece: DataPiece, from descriptor: Int32, files: SnapshotDescriptors,
        buffer: inout [UInt8], to writer: inout SendStreamWriter<Sink>
    ) throws {
        let path = files.table.path(piece.file)
        var position = piece.range.lowerBound
        while position < piece.range.upperBound {
            let want = Int(min(UInt64(buffer.count), piece.range.upperBound - position))
            let got = try readFully(descriptor, into: &buffer, count: want, at: position, path: path)
            guard got == want else {
                throw DataReadError(path: snapshotPath + "/" + path.description, offset: position + UInt64(got), errno: ENODATA)
            }
            try buffer.withUnsafeBytes { raw in
                statistics.commands += try writer.writeData(
                    path: path, fileOffset: position,
                    data: UnsafeRawBufferPointer(rebasing: raw[0..<want]))
            }
            position += UInt64(want)
        }
    }

    /// Reads a compressed-extent piece from the alias subvolume's file and writes it only if the
    /// alias maps the same compressed extent at the same offset, with no page dirty or under
    /// writeback, both before and after the read (then the cached bytes are the extent's).
    private mutating func copyCompressedAlias<Sink: SendByteSink>(
        _ piece: DataPiece, files: SnapshotDescriptors,
        to writer: inout SendStreamWriter<Sink>
    ) throws -> Bool {
        // The snapshot's extent items are not kept per file; a snapshot is read-only, so a fresh
        // search gives what the planner saw.
        // Every failure in this shortcut returns false: the piece is read from the snapshot instead.
        guard let alias = piece.alias, let aliasFile = alias.file(inode: piece.inode),
            let expected = (try? FileExtents(fileSystem: checksums.fileSystem, root: snapshotRoot, inode: piece.inode))?
                .compressedSource(of: piece.range)
        else { return false }
        let path = files.table.path(piece.file)
        func clean() -> Bool {
            // Unknown residency is not clean: fall back to the snapshot.
            guard
                let counters = try? DuetFS.PageResidency.cachestat(
                    aliasFile.descriptor, offset: piece.range.lowerBound,
                    length: UInt64(piece.range.count), subject: alias.path)
            else { return false }
            return counters.dirty == 0 && counters.writeback == 0
        }
        // Before the read the planner's look at the alias's extent items stands for the mapping;
        // after it, one fresh search: a remap in between leaves a new extent, which it would see.
        guard clean() else { return false }
        var bytes = [UInt8](repeating: 0, count: piece.range.count)
        // A failed read or search of the alias only loses the shortcut; the snapshot's read reports its own errors.
        guard let got = try? readFully(aliasFile.descriptor, into: &bytes, count: bytes.count, at: piece.range.lowerBound, path: path),
            got == bytes.count, clean(),
            let fresh = try? FileExtents(fileSystem: alias.fileSystem, root: alias.root, inode: piece.inode),
            fresh.compressedSource(of: piece.range) == expected
        else { return false }
        var position = piece.range.lowerBound
        while position < piece.range.upperBound {
            let start = Int(position - piece.range.lowerBound)
            let want = min(readSize, bytes.count - start)
            try bytes.withUnsafeBytes { raw in
                statistics.commands += try writer.writeData(
                    path: path, fileOffset: position,
                    data: UnsafeRawBufferPointer(rebasing: raw[start..<(start + want)]))
            }
            position += UInt64(want)
        }
        return true
    }

    /// Reads the piece from the alias subvolume's file, sector-rounded, and writes it only if
    /// every sector hashes to the csum tree's checksum for the snapshot's extent.
    private mutating func copyVerified<Sink: SendByteSink>(
        _ piece: DataPiece, files: SnapshotDescriptors,
        to writer: inout SendStreamWriter<Sink>
    ) throws -> Bool {
        if case .compressed = piece.backing { return try copyCompressedAlias(piece, files: files, to: &writer) }
        guard case .plain(let logical) = piece.backing, let aliasFile = piece.alias?.file(inode: piece.inode) else { return false }
        let path = files.table.path(piece.file)
        let sector = Int(checksums.sectorSize)
        var position = piece.range.lowerBound
        while position < piece.range.upperBound {
            let want = Int(min(UInt64(readSize), piece.range.upperBound - position))
            let rounded = (want + sector - 1) / sector * sector
            var bytes = [UInt8](repeating: 0, count: rounded)
            // A failed read of the alias only loses the shortcut; the snapshot's read reports its own errors.
            guard let got = try? readFully(aliasFile.descriptor, into: &bytes, count: rounded, at: position, path: path),
                got >= want
            else { return false }
            // Past the alias file's end the on-disk sector is zero-filled, as `bytes` already is.
            let verified = try bytes.withUnsafeBytes { try checksums.verify($0, logical: logical + (position - piece.range.lowerBound)) }
            guard verified else {
                // Writes already made for earlier parts of this piece carry verified bytes; the
                // disk pass rewrites the whole piece, which the receiver applies in order.
                return false
            }
            try bytes.withUnsafeBytes { raw in
                statistics.commands += try writer.writeData(
                    path: path, fileOffset: position,
                    data: UnsafeRawBufferPointer(rebasing: raw[0..<want]))
            }
            position += UInt64(want)
        }
        return true
    }

    private func readFully(_ descriptor: Int32, into buffer: inout [UInt8], count: Int, at offset: UInt64, path: SendPath) throws -> Int {
        var done = 0
        do {
            return try buffer.withUnsafeMutableBytes { raw in
                Result { () throws(Errno) in
                    try FileDescriptor(rawValue: descriptor).read(
                        fully: UnsafeMutableRawBufferPointer(rebasing: raw[0..<count]), at: offset, done: &done)
                }
            }.get()
        } catch {
            throw DataReadError(path: snapshotPath + "/" + path.description, offset: offset + UInt64(done), errno: error.rawValue)
        }
    }
}

/// Page arrivals taken before the disk phase starts, without the send's own reads.
struct EarlyArrivals {
    var arrived: [InodeKey: [Range<UInt64>]] = [:]
    var overflowed = false

    mutating func take(_ arrivals: CacheArrivals, ownReads: ArraySlice<DataPiece>, root: UInt64) {
        let others = DataEmitter.withoutOwnReads(arrivals.fetch(), reading: ownReads, root: root)
        if arrivals.overflowed() { overflowed = true }
        guard !overflowed else { return }
        arrived.merge(others) { $0 + $1 }
    }
}

import DuetFS
import DuetTestSupport
import Foundation
import Testing

/// Which live source drives the creditor in a test.
enum CreditSourceKind: String, CaseIterable, CustomTestStringConvertible, Sendable {
    case ebpf
    case polling

    var testDescription: String { rawValue }

    /// Why this machine cannot use the source, or nil.
    var obstacle: String? {
        switch self {
        case .ebpf: BPFEventSource.unsupportedReason()
        case .polling: nil
        }
    }

    func make(mount: String, device: UInt32) throws -> any EventSource {
        switch self {
        case .ebpf:
            return try BPFEventSource(mounts: [mount], configuration: .init(pollIntervalMilliseconds: 50))
        case .polling:
            return CachestatPollingSource(scanner: try CachestatScanner(mounts: [mount]), scope: .fileSystem(device: device), interval: 0.2)
        }
    }

    /// The settle window: longer than the polling interval for the polling source.
    var options: CreditorOptions { CreditorOptions(settleSeconds: 1.0) }
}

/// A ledger in a scratch directory, removed afterwards.
final class ScratchLedger {
    let directory: String

    init() {
        var template = Array((NSTemporaryDirectory() + "/duet-credit-XXXXXX").utf8CString)
        directory = template.withUnsafeMutableBufferPointer { String(cString: mkdtemp($0.baseAddress!)!) }
    }

    deinit { try? FileManager.default.removeItem(atPath: directory) }

    func open(_ fileSystem: FileSystem) throws -> Ledger {
        try Ledger.open(fileSystem: try fileSystem.info().fsid, directory: directory + "/ledger")
    }
}

extension PageCacheIntegrationTests {
    @Suite("Creditor on real btrfs: reads credit, writes do not, rewrites void", .enabled(if: IntegrationGate.enabled), .serialized)
    struct CreditorIntegrationTests {
        /// Runs `body` with a watcher crediting `ledger` from `kind`'s live events; stops it afterwards.
        static func watching<T>(
            _ kind: CreditSourceKind, _ fs: TestFileSystem, ledger: Ledger, recordTo recording: String? = nil,
            _ body: (CreditWatcher) throws -> T
        ) throws -> T {
            let fileSystem = try fs.open()
            let device = try MountTable.current().btrfsEntry(containing: fs.mountPoint).kernelDevice
            let creditor = try Creditor(fileSystem: fileSystem, ledger: ledger, device: device, options: kind.options)
            var source = try kind.make(mount: fs.mountPoint, device: device)
            if let recording { source = try EventRecorder(path: recording).tee(source) }
            let watcher = CreditWatcher(source: source, creditor: creditor, settleInterval: 0.2, flush: { try ledger.flush() })
            try watcher.start()
            defer { watcher.stop() }
            return try body(watcher)
        }

        static func skipUnlessSupported(_ kind: CreditSourceKind) -> Bool {
            if let obstacle = kind.obstacle {
                FileHandle.standardError.write(Data("skipping the \(kind) variant: \(obstacle)\n".utf8))
                return false
            }
            return true
        }

        /// Reads `paths` whole and waits until their logical ranges (or `expected`) are credited. Other
        /// tests on this machine may drop caches (machine-wide) between the read and the settle, which
        /// cancels the credit of what they evicted: such pages are read again, up to three more times.
        /// Returns how many times the files were read.
        @discardableResult
        static func readUntilCredited(_ paths: [String], ledger: Ledger, watcher: CreditWatcher, expected: ExtentSet? = nil) throws -> Int {
            var target = ExtentSet()
            for path in paths { for range in try MappingFiles.logicalRanges(path) { target.insert(range) } }
            if let expected { target = expected }
            for round in 1...4 {
                for path in paths { try MappingFiles.readWhole(path) }
                if Eventually.poll(timeout: 6, { target.subtracting(ExtentSet(ledger.credits().map(\.range))).isEmpty }) { return round }
                for path in paths {
                    let fd = open(path, O_RDONLY)
                    if fd >= 0 { posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED); close(fd) }
                }
                // The eviction must be heard before the pages come back, or it cancels the new read.
                if watcher.source is BPFEventSource {
                    // Not a wait on a condition: the eBPF source's per-CPU runs reach user space
                    // within one poll interval (50 ms here) and nothing marks that they did.
                    usleep(100_000)
                } else {
                    try Self.catchUp(watcher)
                }
            }
            return 4
        }

        /// Waits until the watcher's source has reported what happened before the call. The
        /// polling source reports changes at its next sweep: two sweeps must end, as the first may
        /// have begun before the call. The eBPF source needs nothing: its events go out as they
        /// happen (within a 50 ms poll interval), and callers then wait on the creditor.
        static func catchUp(_ watcher: CreditWatcher) throws {
            guard let polling = watcher.source as? CachestatPollingSource else { return }
            let start = polling.sweepStatistics.sweeps
            try Eventually.wait(timeout: 15, every: 0.02, what: "two sweeps of the polling source") {
                polling.sweepStatistics.sweeps >= start + 2
            }
        }

        /// Waits until `paths`' times are older than the start of the polling source's next sweep,
        /// so pages of them read from now on count as read, not written (see `waitUntilTimesAreOld`).
        static func waitUntilSweptAsOld(_ paths: [String], _ watcher: CreditWatcher) throws {
            guard watcher.source is CachestatPollingSource else { return }
            for path in paths { try waitUntilTimesAreOld(path) }
            try Self.catchUp(watcher)
        }

        /// Waits until the creditor holds no page: every page heard so far has settled (and was
        /// credited or skipped) or was cancelled, so a wrong credit would be in the ledger now.
        static func waitUntilSettled(_ watcher: CreditWatcher) throws {
            try Eventually.wait(timeout: 15, what: "the creditor to settle every held page (\(watcher.creditor.heldPages) held)") {
                watcher.creditor.heldPages == 0
            }
        }

        @Test("a file written then read credits only what was read from disk", arguments: CreditSourceKind.allCases)
        func writtenThenRead(kind: CreditSourceKind) throws {
            guard Self.skipUnlessSupported(kind) else { return }
            try TestFileSystem.with { fs in
                let scratch = ScratchLedger()
                let fileSystem = try fs.open()
                let ledger = try scratch.open(fileSystem)
                let recording = scratch.directory + "/events"
                try Self.watching(kind, fs, ledger: ledger, recordTo: recording) { watcher in
                    try fs.writeFile("a", size: 1 << 20, seed: 1)
                    try fs.sync()
                    try fs.writeFile("b", size: 1 << 20, seed: 2)
                    try fs.sync()
                    try Self.catchUp(watcher)  // the writes are heard
                    let writesHeard = Date()
                    try TestFileSystem.dropCaches()
                    try Self.waitUntilSweptAsOld([fs.path("b")], watcher)
                    // Not a wait on a condition: an add heard within `reorderSeconds` after a write
                    // to the same pages is not credited (the events may have crossed), and nothing
                    // marks the end of that window. Let it pass, with the eBPF poll interval to spare.
                    let left = kind.options.reorderSeconds + 0.1 - Date().timeIntervalSince(writesHeard)
                    if left > 0 { usleep(UInt32(left * 1_000_000)) }
                    try Self.readUntilCredited([fs.path("b")], ledger: ledger, watcher: watcher)
                    let b = try MappingFiles.logicalRanges(fs.path("b"))
                    let bytesOfB = b.reduce(UInt64(0)) { $0 + UInt64($1.count) }
                    #expect(Eventually.poll(timeout: 15) { ledger.credits().reduce(UInt64(0)) { $0 + UInt64($1.range.count) } >= bytesOfB })
                    try Self.waitUntilSettled(watcher)
                    let credited = ExtentSet(ledger.credits().map(\.range))
                    #expect(credited == ExtentSet(b), "\(kind): credited \(credited), B is \(b)")
                    let a = try MappingFiles.logicalRanges(fs.path("a"))
                    #expect(!a.contains { credited.intersects($0) }, "A was written, never read from disk")
                    // Each credit carries its extent's current generation.
                    let lookup = try ExtentTreeGenerationLookup(fileSystem: fileSystem)
                    #expect(try ledger.validCredits(lookup: lookup).map(\.range) == ledger.credits().map(\.range))
                    let statistics = watcher.creditor.statistics
                    #expect(statistics.pagesCancelled > 0 || kind == .polling)
                    FileHandle.standardError.write(Data("creditor (\(kind)): \(statistics)\n".utf8))
                }
                // The recording, replayed at its recorded pace into a fresh creditor, credits the same.
                let live = ExtentSet(ledger.credits().map(\.range))
                let replayScratch = ScratchLedger()
                let replayLedger = try replayScratch.open(fileSystem)
                let replay = try ReplaySource(path: recording, pacing: .recorded(speed: 1))
                #expect(replay.recording.events.count > 0)
                let device = try MountTable.current().btrfsEntry(containing: fs.mountPoint).kernelDevice
                let watcher = CreditWatcher(
                    source: replay,
                    creditor: try Creditor(
                        fileSystem: fileSystem, ledger: replayLedger, device: device,
                        options: kind.options), settleInterval: 0.2)
                try watcher.start()
                replay.waitUntilFinished()
                // The recording may end with B's adds (nothing happened after them), so they settle
                // 1.5 s after the replay ends; a fixed 1.5 s sleep raced the settle tick, and `stop`
                // does not force a final settle.
                Eventually.poll(timeout: 10) { ExtentSet(replayLedger.credits().map(\.range)) == live }
                watcher.stop()
                #expect(
                    ExtentSet(replayLedger.credits().map(\.range)) == live, "\(kind): replay of \(replay.recording.events.count) events")
            }
        }

        @Test("a compressed file read whole credits its whole compressed extents", arguments: CreditSourceKind.allCases)
        func compressedRead(kind: CreditSourceKind) throws {
            guard Self.skipUnlessSupported(kind) else { return }
            try TestFileSystem.with(TestFileSystemOptions(mountOptions: ["compress-force=zstd"])) { fs in
                let pattern = Array("duet opportunistic maintenance ".utf8)
                _ = FileManager.default.createFile(
                    atPath: fs.path("zst"), contents: Data((0..<(1 << 20)).map { pattern[$0 % pattern.count] }))
                try fs.sync()
                try TestFileSystem.dropCaches()
                let scratch = ScratchLedger()
                let fileSystem = try fs.open()
                let ledger = try scratch.open(fileSystem)
                let lookup = try ExtentTreeGenerationLookup(fileSystem: fileSystem)
                let disk = try Fiemap.extents(ofFileAt: fs.path("zst")).map {
                    try #require(try lookup.extent(containing: $0.logical)).range
                }
                #expect(disk.count == 8)
                try Self.watching(kind, fs, ledger: ledger) { watcher in
                    try Self.waitUntilSweptAsOld([fs.path("zst")], watcher)
                    let reads = try Self.readUntilCredited([fs.path("zst")], ledger: ledger, watcher: watcher, expected: ExtentSet(disk))
                    #expect(ExtentSet(ledger.credits().map(\.range)) == ExtentSet(disk))
                    // Each read credits each extent at most once; a read again (after pages left the
                    // cache before they settled) credits again those that were already credited.
                    let statistics = watcher.creditor.statistics
                    if reads == 1 {
                        #expect(statistics.compressedExtentsCredited == 8, "\(kind): \(statistics)")
                    } else {
                        #expect(
                            (8...(8 * UInt64(reads))).contains(statistics.compressedExtentsCredited),
                            "\(kind), \(reads) reads: \(statistics)")
                    }
                }
            }
        }

        @Test("rewriting a credited extent voids its credit, whether watched or not", arguments: CreditSourceKind.allCases)
        func rewriteVoids(kind: CreditSourceKind) throws {
            guard Self.skipUnlessSupported(kind) else { return }
            try TestFileSystem.with { fs in
                let scratch = ScratchLedger()
                let fileSystem = try fs.open()
                let lookup = try ExtentTreeGenerationLookup(fileSystem: fileSystem)
                try fs.writeFile("watched", size: 1 << 20, seed: 1)
                try fs.writeFile("unwatched", size: 1 << 20, seed: 2)
                try fs.sync()
                try TestFileSystem.dropCaches()
                let watched = try MappingFiles.logicalRanges(fs.path("watched"))
                let unwatched = try MappingFiles.logicalRanges(fs.path("unwatched"))
                var ledger: Ledger? = try scratch.open(fileSystem)
                try Self.watching(kind, fs, ledger: ledger!) { watcher in
                    try Self.waitUntilSweptAsOld([fs.path("watched"), fs.path("unwatched")], watcher)
                    try Self.readUntilCredited([fs.path("watched"), fs.path("unwatched")], ledger: ledger!, watcher: watcher)
                    #expect(ExtentSet(ledger!.credits().map(\.range)) == ExtentSet(watched + unwatched))
                    // Rewrite one while watching, and wait until the source has reported it and the
                    // creditor holds nothing. The eBPF source reports 1 MiB dirtied (256 pages) and
                    // more; the polling source may see nothing (the pages were cached and are clean
                    // again after the fsync): its sweeps after the rewrite are what there is to wait on.
                    let before = watcher.creditor.statistics.pageEvents
                    try MappingFiles.overwrite(fs.path("watched"), at: 0, TestData.bytes(count: 1 << 20, seed: 3))
                    try fs.sync()
                    if watcher.source is BPFEventSource {
                        try Eventually.wait(timeout: 15, what: "the creditor to hear the rewrite") {
                            watcher.creditor.statistics.pageEvents >= before + 256
                        }
                    } else {
                        try Self.catchUp(watcher)
                    }
                    try Self.waitUntilSettled(watcher)
                }
                // The watched rewrite: voided by the event (eBPF) or by the generation check (either).
                #expect(try ledger!.validCredits(in: watched[0].lowerBound..<watched[watched.count - 1].upperBound, lookup: lookup).isEmpty)
                try ledger!.flush()
                ledger = nil  // closes it: nothing watches now

                try MappingFiles.overwrite(fs.path("unwatched"), at: 0, TestData.bytes(count: 1 << 20, seed: 4))
                try fs.sync()
                let reopened = try scratch.open(fileSystem)
                #expect(ExtentSet(reopened.credits().map(\.range)).intersects(unwatched[0]))
                let voided = try reopened.revalidate(using: lookup)
                #expect(voided >= UInt64(unwatched.reduce(0) { $0 + $1.count }))
                #expect(reopened.credits().isEmpty)
            }
        }

        @Test("tree blocks read through the btree inode are credited in single metadata, never in DUP")
        func treeBlocks() throws {
            guard Self.skipUnlessSupported(.ebpf) else { return }
            for profile in [Profile.single, .dup] {
                try TestFileSystem.with(TestFileSystemOptions(metadataProfile: profile)) { fs in
                    for i in 0..<300 { try fs.writeFile("d/f\(i)", size: 8192, seed: UInt64(i)) }
                    try fs.sync()
                    // A fresh mount, so the tree blocks are read from disk again (new superblock device).
                    let device = fs.devices[0]
                    try Command.run(["umount", fs.mountPoint])
                    // noatime: reads must not change (and COW) the tree blocks they read.
                    try Command.run(["mount", "-t", "btrfs", "-o", "noatime", device, fs.mountPoint])
                    let scratch = ScratchLedger()
                    let fileSystem = try fs.open()
                    let ledger = try scratch.open(fileSystem)
                    let chunks = try ChunkMap.load(from: fileSystem)
                    try Self.watching(.ebpf, fs, ledger: ledger) { watcher in
                        for i in 0..<300 { try MappingFiles.readWhole(fs.path("d/f\(i)")) }
                        func metadataCredits() -> [LedgerCredit] {
                            ledger.credits().filter { chunks.chunk(containing: $0.range.lowerBound)?.flags.contains(.metadata) == true }
                        }
                        Eventually.poll(timeout: 8) {
                            profile == .single ? !metadataCredits().isEmpty : watcher.creditor.statistics.bytesSkippedMultipleCopies > 0
                        }
                        let metadata = metadataCredits()
                        let statistics = watcher.creditor.statistics
                        FileHandle.standardError.write(
                            Data(
                                "tree blocks (\(profile)): \(metadata.count) metadata credits, \(statistics.bytesSkippedMultipleCopies) bytes skipped as multi-copy\n"
                                    .utf8))
                        if profile == .single {
                            #expect(!metadata.isEmpty)
                            let nodeSize = UInt64(try fileSystem.info().nodeSize)
                            #expect(metadata.allSatisfy { $0.range.lowerBound % nodeSize == 0 && $0.range.count % Int(nodeSize) == 0 })
                            let lookup = try ExtentTreeGenerationLookup(fileSystem: fileSystem)
                            #expect(try ledger.validCredits(lookup: lookup).count >= ledger.credits().count)
                        } else {
                            #expect(metadata.isEmpty)
                            #expect(statistics.bytesSkippedMultipleCopies > 0)
                        }
                    }
                }
            }
        }
    }
}

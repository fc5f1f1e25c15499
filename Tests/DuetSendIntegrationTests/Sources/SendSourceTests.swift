import DuetFS
import DuetTestSupport
import Foundation
import Glibc
import Testing

@testable import DuetSend

extension SendIntegrationTests {
    /// Where `duet send` takes file data from: the live file's cached pages only when they hash to
    /// the snapshot's checksums, and then it reads much less from disk than the kernel's send.
    @Suite struct SendSourceTests {
        static func readFile(_ path: String) throws {
            let fd = open(path, O_RDONLY)
            guard fd >= 0 else { throw HarnessFailure("open \(path)") }
            defer { close(fd) }
            var buffer = [UInt8](repeating: 0, count: 1 << 20)
            while read(fd, &buffer, buffer.count) > 0 {}
        }

        static func overwrite(_ path: String, with bytes: [UInt8]) throws {
            let fd = open(path, O_WRONLY)
            guard fd >= 0 else { throw HarnessFailure("open \(path)") }
            defer { close(fd) }
            guard bytes.withUnsafeBytes({ pwrite(fd, $0.baseAddress, $0.count, 0) }) == bytes.count else {
                throw HarnessFailure("pwrite \(path)")
            }
        }

        @Test func theLiveFileOverwrittenAfterTheSnapshotIsRejectedByChecksum() throws {
            try TestFileSystem.with { source in
                try TestFileSystem.with { target in
                    try source.createSubvolume("live")
                    let original = try source.writeFile("live/data", size: 4 << 20, seed: 11)
                    try source.writeFile("live/other", size: 1 << 20, seed: 12)
                    try source.sync()
                    try source.snapshot("live", as: "snap")
                    try TestFileSystem.dropCaches()
                    // New data, cached and dirty, while the extent items still map the snapshot's extent.
                    try Self.overwrite(source.path("live/data"), with: TestData.bytes(count: 4 << 20, seed: 99))
                    // Written back: the live file now maps a new extent; its new pages stay cached.
                    try Self.overwrite(source.path("live/other"), with: TestData.bytes(count: 1 << 20, seed: 98))
                    let fd = open(source.path("live/other"), O_RDONLY); fsync(fd); close(fd)

                    let stream = target.directory + "/stream"
                    let report = try SendHarness.duetSend(source.path("snap"), proto: 2, to: stream)
                    let statistics = report.total
                    #expect(statistics.bytesFromOtherCache == 0)
                    // Unless something (another test's sync) wrote the dirty pages back before the plan
                    // looked, the live file still maps the snapshot's extent: then only the checksum
                    // can tell the difference.
                    let liveExtent = try Fiemap.extents(ofFileAt: source.path("live/data"), sync: false).first?.logical
                    let snapshotExtent = try Fiemap.extents(ofFileAt: source.path("snap/data"), sync: false).first?.logical
                    #expect(
                        statistics.otherCacheRejectedBytes == 4 << 20 || liveExtent != snapshotExtent,
                        "the dirty alias must be checked and rejected")
                    #expect(statistics.bytesFromDisk == 5 << 20)
                    try SendHarness.receive(stream, into: target.mountPoint)
                    let received = try Data(contentsOf: URL(fileURLWithPath: target.path("snap/data")))
                    #expect([UInt8](received) == original)
                    try SendHarness.requireSame(
                        try TreeManifest(root: target.path("snap")), try TreeManifest(root: source.path("snap")), "received vs snapshot")
                }
            }
        }

        @Test func halfTheDataCachedUnderTheLiveSubvolumeHalvesTheDiskReads() throws {
            try TestFileSystem.with(TestFileSystemOptions(deviceSize: 1 << 30)) { source in
                try TestFileSystem.with { target in
                    try source.createSubvolume("live")
                    let files = (0..<8).map { "live/file\($0)" }
                    for (index, file) in files.enumerated() { try source.writeFile(file, size: 8 << 20, seed: UInt64(index + 1)) }
                    try source.sync()
                    try source.snapshot("live", as: "snap")
                    let device = source.devices[0]
                    func cacheHalfUnderLive() throws {
                        try TestFileSystem.dropCaches()
                        for file in files.prefix(4) { try Self.readFile(source.path(file)) }
                    }

                    try cacheHalfUnderLive()
                    var before = try BlockDevice.bytesRead(device)
                    let kernelStarted = Date()
                    try SendHarness.kernelSend(source.path("snap"), proto: 2, to: "/dev/null")
                    let kernelSeconds = Date().timeIntervalSince(kernelStarted)
                    let kernelBytes = try BlockDevice.bytesRead(device) - before

                    // Other suites in this process may drop caches machine-wide at any moment; a run
                    // in which the live half did not stay cached tests nothing: run it again.
                    let stream = target.directory + "/stream"
                    var report = SendSession.Report()
                    var duetBytes: UInt64 = 0
                    for _ in 0..<3 {
                        try cacheHalfUnderLive()
                        before = try BlockDevice.bytesRead(device)
                        report = try SendHarness.duetSend(source.path("snap"), proto: 2, to: stream)
                        duetBytes = try BlockDevice.bytesRead(device) - before
                        if report.total.bytesFromOtherCache == 32 << 20 { break }
                    }
                    let ratio = Double(duetBytes) / Double(kernelBytes)
                    print(
                        "send-bytes: kernel \(kernelBytes) B in \(String(format: "%.3f", kernelSeconds)) s, duet \(duetBytes) B in "
                            + "\(String(format: "%.3f", report.total.seconds)) s, ratio \(String(format: "%.3f", ratio)); "
                            + "own cache \(report.total.bytesFromOwnCache), other cache \(report.total.bytesFromOtherCache), disk \(report.total.bytesFromDisk)"
                    )
                    #expect(kernelBytes >= 64 << 20)
                    #expect(report.total.bytesFromOtherCache == 32 << 20)
                    #expect(ratio <= 0.53)
                    // The pages it brought into the snapshot's cache are gone, and what it sent is right.
                    for file in ["snap/file0", "snap/file5", "snap/file7"] {
                        let fd = open(source.path(file), O_RDONLY)
                        defer { close(fd) }
                        #expect(
                            !PageResidency.runs(descriptor: fd, range: 0..<(8 << 20)).contains { $0.1 }, "\(file) should not stay cached")
                    }
                    try SendHarness.receive(stream, into: target.mountPoint)
                    try SendHarness.requireSame(
                        try TreeManifest(root: target.path("snap")), try TreeManifest(root: source.path("snap")), "received vs snapshot")
                }
            }
        }

        /// The foreground's memory is not the send's to keep: pages cached when the send planned
        /// may be evicted before it copies them. Read through the cache they would come from disk
        /// anyway, out of disk order, and be counted as cache; the emitter reads them as disk pieces.
        @Test func pagesCachedAtThePlanButEvictedBeforeTheCopyAreDiskReads() throws {
            try TestFileSystem.with(TestFileSystemOptions(deviceSize: 1 << 30)) { source in
                try source.createSubvolume("live")
                try source.writeFile("live/a", size: 8 << 20, seed: 21)
                try source.writeFile("live/b", size: 8 << 20, seed: 22)
                try source.sync()
                try source.snapshot("live", as: "snap")
                try TestFileSystem.dropCaches()
                try Self.readFile(source.path("live/a"))  // the live inode: other cache
                try Self.readFile(source.path("snap/b"))  // the snapshot's own inode: own cache

                let snapPath = source.path("snap")
                let fileSystem = try FileSystem(path: snapPath)
                let snapshot = try Subvolumes.info(path: snapPath)
                let live = AliasSubvolume(
                    path: source.path("live"), root: try Subvolumes.info(path: source.path("live")).id, fileSystem: fileSystem)
                let directory = open(snapPath, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
                #expect(directory >= 0)
                defer { close(directory) }
                var planner = DataPlanner(
                    fileSystem: fileSystem, snapshot: directory, snapshotPath: snapPath, root: snapshot.id, aliases: [live])
                let pieces = try planner.plan(["a", "b"].map { StreamPlan.DataRange(path: SendPath($0), offset: 0, length: 8 << 20) })
                let planned = Dictionary(grouping: pieces, by: \.source).mapValues { $0.reduce(0) { $0 + $1.range.count } }
                #expect(
                    planned[.otherCache] == 8 << 20 && planned[.ownCache] == 8 << 20, "the plan takes both files from the cache: \(planned)"
                )

                // The first half of each leaves the cache between the plan and the copy.
                for path in ["live/a", "snap/b"] {
                    let fd = open(source.path(path), O_RDONLY)
                    defer { close(fd) }
                    #expect(posix_fadvise(fd, 0, 4 << 20, POSIX_FADV_DONTNEED) == 0)
                }
                var emitter = DataEmitter(
                    checksums: ChecksumIndex(fileSystem: fileSystem, info: try fileSystem.info()), snapshotPath: snapPath)
                emitter.snapshotRoot = snapshot.id
                emitter.aliases = [live]
                var writer = SendStreamWriter(sink: ByteBufferSink(), version: .v2)
                try writer.writeHeader()
                let before = try BlockDevice.bytesRead(source.devices[0])
                try emitter.emit(pieces, files: planner.files, to: &writer)
                let deviceBytes = try BlockDevice.bytesRead(source.devices[0]) - before
                let statistics = emitter.statistics
                #expect(statistics.bytesFromOtherCache == 4 << 20)
                #expect(statistics.bytesFromOwnCache == 4 << 20)
                #expect(statistics.bytesFromDisk == 8 << 20)
                #expect(statistics.otherCacheRejectedBytes == 0, "evicted pages are not a checksum rejection")
                #expect(deviceBytes >= 8 << 20 && deviceBytes < 10 << 20, "the evicted halves, read once: \(deviceBytes) bytes")
                #expect(emitter.diskReads.ranges.count == 8 << 20, "what it read from disk is credited as disk reads")
            }
        }

        /// The send's result, handed from the thread it ran on.
        final class Outcome: @unchecked Sendable {
            var report = SendSession.Report()
            var error: Error?
        }

        /// `--idle`: while another process keeps the device busy, the send reads nothing from disk;
        /// what that process brings into the cache meanwhile is sent from the cache.
        @Test func withIdleTheSendWaitsWhileTheDeviceIsBusyAndTakesWhatArrives() throws {
            try #require(BPFEventSource.isSupported, "page-cache events need eBPF: \(BPFEventSource.unsupportedReason() ?? "")")
            try TestFileSystem.with(TestFileSystemOptions(deviceSize: 1 << 30)) { source in
                try TestFileSystem.with { target in
                    try source.createSubvolume("live")
                    for index in 0..<4 { try source.writeFile("live/f\(index)", size: 8 << 20, seed: UInt64(index + 31)) }
                    try source.sync()
                    try source.snapshot("live", as: "snap")
                    // The other process's file, outside the snapshot, read with O_DIRECT: device
                    // I/O that brings nothing into the cache.
                    try source.writeFile("busy", size: 64 << 20, seed: 39)
                    try source.sync()
                    try TestFileSystem.dropCaches()
                    let busy = try BusyReader(file: source.path("busy"), seconds: 4)  // returns once reading
                    defer { busy.stop() }

                    let stream = target.directory + "/stream"
                    let outcome = Outcome()
                    let done = DispatchSemaphore(value: 0)
                    let snapshot = source.path("snap")
                    Thread {
                        let fd = open(stream, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
                        defer { close(fd); done.signal() }
                        var options = SendSession.Options(snapshots: [snapshot])
                        options.protocolVersion = 2
                        options.idle = true
                        let session = SendSession(options: options, output: fd)
                        do {
                            try session.run()
                            outcome.report = session.report
                        } catch {
                            outcome.error = error
                        }
                    }.start()
                    // The stream header is written once the cache watch and the idle wait are set
                    // up, and no data can follow while the device is busy: the send waits now.
                    try Eventually.wait(what: "the send to write its stream header") {
                        ((try? FileManager.default.attributesOfItem(atPath: stream)[.size] as? Int) ?? 0) > 0 || outcome.error != nil
                    }
                    try Self.readFile(source.path("live/f1"))  // while the send waits
                    done.wait()
                    if let error = outcome.error { throw error }
                    let total = outcome.report.total
                    #expect(total.secondsDeferred >= 1, "it waited for the other process: \(total.secondsDeferred) s")
                    #expect(total.bytesFromOtherCache == 8 << 20, "f1 from the live file's cache")
                    #expect(total.bytesFromDisk == 24 << 20)
                    try SendHarness.receive(stream, into: target.mountPoint)
                    try SendHarness.requireSame(
                        try TreeManifest(root: target.path("snap")), try TreeManifest(root: source.path("snap")), "received vs snapshot")
                }
            }
        }

        /// `--idle --deadline`: on a device that is never idle, the send waits only while the
        /// deadline leaves room for the rest, then reads; it does not wait for the device to fall
        /// idle (here 60 s away), nor a whole `IdleMonitor.maximumWait` per read.
        @Test func withADeadlineTheSendStopsWaitingWhenTheRestWouldNotFit() throws {
            try TestFileSystem.with(TestFileSystemOptions(deviceSize: 1 << 30)) { source in
                try TestFileSystem.with { target in
                    try source.createSubvolume("live")
                    for index in 0..<4 { try source.writeFile("live/f\(index)", size: 8 << 20, seed: UInt64(index + 41)) }
                    try source.writeFile("busy", size: 64 << 20, seed: 49)
                    try source.sync()
                    try source.snapshot("live", as: "snap")
                    try TestFileSystem.dropCaches()
                    let busy = try BusyReader(file: source.path("busy"), seconds: 60)  // returns once reading
                    defer { busy.stop() }

                    let stream = target.directory + "/stream"
                    let fd = open(stream, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
                    #expect(fd >= 0)
                    var options = SendSession.Options(snapshots: [source.path("snap")])
                    options.protocolVersion = 2
                    options.idle = true
                    options.deadline = Date().addingTimeInterval(5)
                    let session = SendSession(options: options, output: fd)
                    defer { close(fd) }
                    try session.run()
                    let total = session.report.total
                    #expect(busy.isRunning, "the send finished while the device was still busy")
                    #expect(total.secondsDeferred >= 1, "it waited while the deadline left room: \(total.secondsDeferred) s")
                    #expect(total.secondsDeferred <= 5.5, "no wait runs past the deadline: \(total.secondsDeferred) s")
                    #expect(total.bytesFromDisk == 32 << 20)
                    try SendHarness.receive(stream, into: target.mountPoint)
                    try SendHarness.requireSame(
                        try TreeManifest(root: target.path("snap")), try TreeManifest(root: source.path("snap")), "received vs snapshot")
                }
            }
        }

        @Test func anotherSnapshotsCachedPagesAreUsedWhenTheLiveFileChanged() throws {
            try TestFileSystem.with(TestFileSystemOptions(deviceSize: 1 << 30)) { source in
                try TestFileSystem.with { target in
                    try source.createSubvolume("live")
                    for index in 0..<4 { try source.writeFile("live/f\(index)", size: 4 << 20, seed: UInt64(index + 1)) }
                    try source.sync()
                    try source.snapshot("live", as: "older")
                    try source.snapshot("live", as: "snap")
                    // The live files now map new extents: only the other snapshot still shares the data.
                    for index in 0..<4 { try source.writeFile("live/f\(index)", size: 4 << 20, seed: UInt64(index + 50)) }
                    try source.sync()
                    let stream = target.directory + "/stream"
                    var report = SendSession.Report()
                    // Other suites may drop caches machine-wide; a run where the pages left tests nothing.
                    for _ in 0..<3 {
                        try TestFileSystem.dropCaches()
                        for index in 0..<2 { try Self.readFile(source.path("older/f\(index)")) }
                        report = try SendHarness.duetSend(source.path("snap"), proto: 2, to: stream)
                        if report.total.bytesFromOtherCache == 8 << 20 { break }
                    }
                    #expect(report.total.bytesFromOtherCache == 8 << 20, "f0 and f1 from the other snapshot's cache")
                    #expect(report.total.bytesFromDisk == 8 << 20)
                    #expect(report.total.otherCacheRejectedBytes == 0)
                    #expect(report.streams.first?.otherSources.contains(source.path("older")) == true)
                    try SendHarness.receive(stream, into: target.mountPoint)
                    try SendHarness.requireSame(
                        try TreeManifest(root: target.path("snap")), try TreeManifest(root: source.path("snap")), "received vs snapshot")
                }
            }
        }

        @Test func compressedExtentsCachedUnderTheLiveFileAreUsedUnlessDirty() throws {
            try TestFileSystem.with(TestFileSystemOptions(deviceSize: 1 << 30, mountOptions: ["compress-force=zstd"])) { source in
                try TestFileSystem.with { target in
                    try source.createSubvolume("live")
                    // Compressible: btrfs stores these as compressed extents.
                    let text = Array("duet compressed alias test line, repeated many times over\n".utf8)
                    for index in 0..<4 {
                        var bytes: [UInt8] = []
                        while bytes.count < 4 << 20 { bytes += text + Array("\(index)".utf8) }
                        #expect(
                            FileManager.default.createFile(atPath: source.path("live/f\(index)"), contents: Data(bytes.prefix(4 << 20))))
                    }
                    try source.sync()
                    try source.snapshot("live", as: "snap")
                    let compressed = try FileExtents(
                        fileSystem: try source.open(), root: try Subvolumes.id(of: source.path("snap")),
                        inode: UInt64(try FileManager.default.attributesOfItem(atPath: source.path("snap/f0"))[.systemFileNumber] as! Int))
                    #expect(compressed.items.contains { $0.compression != .none }, "the test needs compressed extents")
                    let stream = target.directory + "/stream"
                    var report = SendSession.Report()
                    for _ in 0..<3 {
                        try TestFileSystem.dropCaches()
                        for index in 0..<3 { try Self.readFile(source.path("live/f\(index)")) }
                        // f2 now has a dirty page: its cached bytes are no longer the extent's.
                        let fd = open(source.path("live/f2"), O_WRONLY)
                        _ = [UInt8](repeating: 0x41, count: 16).withUnsafeBytes { pwrite(fd, $0.baseAddress, 16, 4096) }
                        close(fd)
                        report = try SendHarness.duetSend(source.path("snap"), proto: 2, to: stream)
                        if report.total.bytesFromOtherCache >= 8 << 20 { break }
                    }
                    let total = report.total
                    #expect(total.bytesFromOtherCache + total.bytesFromDisk + total.bytesFromOwnCache == 16 << 20)
                    #expect(total.bytesFromOtherCache >= 8 << 20, "f0 and f1 (and f2's clean extents) from the live file's cache")
                    // btrfs compressed extents hold at most 128 KiB: the one with the dirty page must
                    // come from disk (the live file maps a new extent once it is written back, or
                    // the dirty check rejects it before).
                    #expect(total.bytesFromOtherCache <= (12 << 20) - (128 << 10))
                    #expect(total.bytesFromDisk >= 4 << 20, "f3 was never read")
                    try SendHarness.receive(stream, into: target.mountPoint)
                    try SendHarness.requireSame(
                        try TreeManifest(root: target.path("snap")), try TreeManifest(root: source.path("snap")), "received vs snapshot")
                }
            }
        }

        @Test func dataCachedWhileTheSendRunsMovesAheadThroughEvents() throws {
            try #require(BPFEventSource.isSupported, "page-cache events need eBPF: \(BPFEventSource.unsupportedReason() ?? "")")
            try TestFileSystem.with(TestFileSystemOptions(deviceSize: 1 << 30)) { source in
                try TestFileSystem.with { target in
                    try source.createSubvolume("live")
                    // Written in order, so f6 and f7 lie last on disk, past the send's readahead window.
                    for index in 0..<8 { try source.writeFile("live/f\(index)", size: 8 << 20, seed: UInt64(index + 1)) }
                    try source.sync()
                    try source.snapshot("live", as: "snap")
                    var total: [String: Any] = [:]
                    // Other suites may drop caches machine-wide; a run where the pages left tests nothing.
                    for _ in 0..<3 {
                        try TestFileSystem.dropCaches()
                        let send = Process()
                        send.executableURL = URL(fileURLWithPath: DuetBinary.path)
                        send.arguments = ["send", "--json", "--no-ledger", source.path("snap")]
                        let stream = Pipe()
                        let errors = Pipe()
                        send.standardOutput = stream
                        send.standardError = errors
                        try send.run()
                        // The pipe stalls the send near the start of its disk pass; meanwhile a
                        // foreground reads one file of the snapshot and one of the live subvolume.
                        let file = target.directory + "/stream"
                        FileManager.default.createFile(atPath: file, contents: nil)
                        let out = try #require(FileHandle(forWritingAtPath: file))
                        var received = 0
                        while received < 2 << 20, let chunk = try stream.fileHandleForReading.read(upToCount: 1 << 16), !chunk.isEmpty {
                            received += chunk.count
                            out.write(chunk)
                        }
                        try Self.readFile(source.path("snap/f6"))
                        try Self.readFile(source.path("live/f7"))
                        // Not a wait on a condition: the send, another process, hears these reads'
                        // page-cache events within its eBPF poll interval (100 ms) and shows nothing
                        // of them until it ends. Give it three intervals before it goes on.
                        usleep(300_000)
                        while let chunk = try stream.fileHandleForReading.read(upToCount: 1 << 20), !chunk.isEmpty { out.write(chunk) }
                        try out.close()
                        send.waitUntilExit()
                        let report = try errors.fileHandleForReading.readToEnd() ?? Data()
                        #expect(send.terminationStatus == 0, "\(String(decoding: report, as: UTF8.self))")
                        let envelope = try JSONSerialization.jsonObject(with: report) as? [String: Any]
                        let result = try #require(envelope?["result"] as? [String: Any])
                        let streams = try #require(result["streams"] as? [[String: Any]])
                        #expect(streams.first?["cacheEvents"] as? Bool == true)
                        total = try #require(result["total"] as? [String: Any])
                        if jsonUInt64(total["diskBytes"]) == 48 << 20 { break }
                    }
                    #expect(jsonUInt64(total["ownCacheBytes"]) == 8 << 20, "snap/f6, cached while the send ran")
                    #expect(jsonUInt64(total["otherCacheBytes"]) == 8 << 20, "live/f7, cached while the send ran, verified")
                    #expect(jsonUInt64(total["diskBytes"]) == 48 << 20)
                    #expect((jsonUInt64(total["movedAhead"]) ?? 0) >= 2)
                    try SendHarness.receive(target.directory + "/stream", into: target.mountPoint)
                    try SendHarness.requireSame(
                        try TreeManifest(root: target.path("snap")), try TreeManifest(root: source.path("snap")), "received vs snapshot")
                }
            }
        }

        @Test func pagesTheSnapshotHasCachedAreUsedAndKept() throws {
            try TestFileSystem.with { source in
                try TestFileSystem.with { target in
                    try source.createSubvolume("live")
                    try source.writeFile("live/a", size: 3 << 20, seed: 5)
                    try source.writeFile("live/b", size: 2 << 20, seed: 6)
                    try source.sync()
                    try source.snapshot("live", as: "snap")
                    try TestFileSystem.dropCaches()
                    try Self.readFile(source.path("snap/a"))
                    let stream = target.directory + "/stream"
                    let report = try SendHarness.duetSend(source.path("snap"), proto: 1, to: stream, useOtherCache: false)
                    #expect(report.total.bytesFromOwnCache == 3 << 20)
                    #expect(report.total.bytesFromDisk == 2 << 20)
                    let fd = open(source.path("snap/a"), O_RDONLY)
                    defer { close(fd) }
                    #expect(PageResidency.isResident(descriptor: fd, range: 0..<(3 << 20)))
                    try SendHarness.receive(stream, into: target.mountPoint)
                    try SendHarness.requireSame(
                        try TreeManifest(root: target.path("snap")), try TreeManifest(root: source.path("snap")), "received vs snapshot")
                }
            }
        }

        /// Inline extents have no disk address for the disk phase to sort by: they go out with the
        /// first phase, from the cache when their pages are there, else read (counted as from disk)
        /// and dropped from the cache again, so the send leaves the cache as it found it.
        @Test func inlineFilesGoOutFirstAndLeaveTheCacheAsItWas() throws {
            try TestFileSystem.with { source in
                try TestFileSystem.with { target in
                    try source.createSubvolume("live")
                    let names = (0..<40).map { "f\($0)" }
                    for (index, name) in names.enumerated() { try source.writeFile("live/\(name)", size: 1000, seed: UInt64(index + 1)) }
                    try source.writeFile("live/big", size: 1 << 20, seed: 99)
                    try source.sync()
                    try source.snapshot("live", as: "snap")
                    try TestFileSystem.dropCaches()
                    let cachedNames = names.prefix(10)
                    for name in cachedNames { try Self.readFile(source.path("snap/\(name)")) }
                    let stream = target.directory + "/stream"
                    let report = try SendHarness.duetSend(source.path("snap"), proto: 1, to: stream, useOtherCache: false)
                    #expect(report.total.bytesFromOwnCache == 10 * 1000)
                    #expect(report.total.bytesFromDisk == 30 * 1000 + (1 << 20))
                    for name in names {
                        let fd = open(source.path("snap/\(name)"), O_RDONLY)
                        defer { close(fd) }
                        #expect(PageResidency.isResident(descriptor: fd, range: 0..<1000) == cachedNames.contains(name), "\(name)")
                    }
                    try SendHarness.receive(stream, into: target.mountPoint)
                    try SendHarness.requireSame(
                        try TreeManifest(root: target.path("snap")), try TreeManifest(root: source.path("snap")), "received vs snapshot")
                }
            }
        }
    }
}

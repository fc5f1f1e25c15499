import DuetFS
import DuetTestSupport
import Foundation
import Synchronization
import Testing

/// Collects events from any thread (own type: the eBPF tests have their own collector).
final class ScannerEventSink: Sendable {
    private let events = Mutex<[CacheEvent]>([])

    func deliver(_ batch: [CacheEvent]) { events.withLock { $0.append(contentsOf: batch) } }

    var all: [CacheEvent] { events.withLock { $0 } }

    func reset() { events.withLock { $0.removeAll() } }

    /// Pages covered by events of `kind` for one inode of one root, as a sorted list of runs.
    static func pages(_ events: [CacheEvent], _ kind: CacheEvent.Kind, root: UInt64, inode: UInt64) -> ExtentSet {
        var set = ExtentSet()
        for event in events where event.kind == kind && event.root == root && event.inode == inode {
            set.insert(event.firstPage..<(event.firstPage + event.pageCount))
        }
        return set
    }

    func wait(seconds: Double = 10, until condition: ([CacheEvent]) -> Bool) -> Bool {
        Eventually.poll(timeout: seconds, every: 0.02) { condition(all) }
    }
}

/// The polling source takes pages that appear in a file whose mtime or ctime is less than 50 ms
/// older than the previous sweep's start for written, not read. Waits until `path`'s times lie
/// far enough in the past that a sweep starting from now counts its new pages as read.
func waitUntilTimesAreOld(_ path: String) throws {
    var info = stat()
    guard stat(path, &info) == 0 else { throw HarnessError("stat \(path): \(String(cString: strerror(errno)))") }
    func seconds(_ time: timespec) -> Double { Double(time.tv_sec) + Double(time.tv_nsec) / 1e9 }
    let newest = max(seconds(info.st_mtim), seconds(info.st_ctim))
    // 50 ms of the source's widening for coarse timestamps, and as much again for the clock tick.
    try Eventually.wait(timeout: 10, every: 0.01, what: "the times of \(path) to be 100 ms old") {
        Date().timeIntervalSince1970 > newest + 0.1
    }
}

extension PageCacheIntegrationTests {
    @Suite("cachestat scanner and polling source on real btrfs", .enabled(if: IntegrationGate.enabled), .serialized)
    struct CachestatScannerTests {
        @Test(
            "after drop_caches, the scanner reports exactly the pages read, with the right root and inode",
            arguments: PageResidency.Method.allCases)
        func exactPagesRead(method: PageResidency.Method) throws {
            try TestFileSystem.with { fs in
                try fs.createSubvolume("sv")
                try fs.writeFile("sv/data", size: 8 << 20, seed: 1)
                try fs.writeFile("sv/other", size: 1 << 20, seed: 2)
                try fs.sync()
                try fs.snapshot("sv", as: "snap", readOnly: true)
                try fs.sync()
                let live = try Subvolumes.id(of: fs.path("sv"))
                let snap = try Subvolumes.id(of: fs.path("snap"))
                let inode = try MappingFiles.inode(fs.path("sv/data"))
                let device = try MountTable.current().btrfsEntry(containing: fs.mountPoint).kernelDevice
                let scanner = try CachestatScanner(mounts: [fs.mountPoint], method: method)
                #expect(scanner.directories[device]?[live] == fs.path("sv"))
                #expect(scanner.directories[device]?[snap] == fs.path("snap"))
                #expect(scanner.directories[device]?[5] == fs.mountPoint)

                let livePages: [Range<UInt64>] = [3..<4, 10..<14, 1000..<1010, 2047..<2048]
                let snapPages: [Range<UInt64>] = [500..<502]
                let sink = ScannerEventSink()
                // Other tests may drop caches (machine-wide) between our reads and the scan: retry then.
                for _ in 0..<3 {
                    try TestFileSystem.dropCaches()
                    try MappingFiles.readPages(fs.path("sv/data"), livePages)
                    try MappingFiles.readPages(fs.path("snap/data"), snapPages)
                    sink.reset()
                    try scanner.scanCachedPages(in: .fileSystem(device: device), deliver: sink.deliver)
                    if ScannerEventSink.pages(sink.all, .added, root: live, inode: inode) == ExtentSet(livePages)
                        && ScannerEventSink.pages(sink.all, .added, root: snap, inode: inode) == ExtentSet(snapPages)
                    {
                        break
                    }
                }
                let events = sink.all
                #expect(ScannerEventSink.pages(events, .added, root: live, inode: inode) == ExtentSet(livePages))
                #expect(ScannerEventSink.pages(events, .added, root: snap, inode: inode) == ExtentSet(snapPages))
                #expect(events.allSatisfy { $0.device == device && $0.kind == .added })
                #expect(!events.contains { $0.inode == (try? MappingFiles.inode(fs.path("sv/other"))) })

                // A scope of one subvolume reports only its pages.
                sink.reset()
                try scanner.scanCachedPages(in: .subvolumes([snap], device: device), deliver: sink.deliver)
                #expect(Set(sink.all.map(\.root)) == [snap])
                #expect(ScannerEventSink.pages(sink.all, .added, root: snap, inode: inode) == ExtentSet(snapPages))
            }
        }

        @Test("the hub's scan at registration reports pages cached before the task started, mapped by the file extent mapper")
        func hubScanAtRegistration() throws {
            try TestFileSystem.with { fs in
                try fs.writeFile("f", size: 1 << 20, seed: 1)
                try fs.sync()
                try TestFileSystem.dropCaches()
                try MappingFiles.readPages(fs.path("f"), [0..<8, 100..<101])
                let device = try MountTable.current().btrfsEntry(containing: fs.mountPoint).kernelDevice
                let inode = try MappingFiles.inode(fs.path("f"))
                let mapper = try FileExtentMapper(fileSystem: try fs.open())
                let hub = Hub()
                let task = try hub.register(
                    scope: .fileSystem(device: device), model: .stateBased, keySpace: .logical(mapper),
                    scanner: try CachestatScanner(mounts: [fs.mountPoint]))
                let items = task.fetch(max: 100).filter { $0.inode == inode }
                #expect(items.map(\.pages) == [0..<8, 100..<101])
                #expect(items.allSatisfy { $0.root == 5 && $0.kinds == .added })
                // A logical done-set: pages whose logical bytes are done are filtered from later events.
                let logical = try #require(mapper.logicalRanges(root: 5, inode: inode, firstPage: 0, pageCount: 4))
                for range in logical { task.markDone(range, in: .logical) }
                hub.ingest([CacheEvent(kind: .added, device: device, root: 5, inode: inode, firstPage: 0, pageCount: 8)])
                #expect(task.fetch(max: 100).filter { $0.inode == inode }.map(\.pages) == [4..<8])
                task.deregister()
            }
        }

        @Test("a mount of a subvolume reaches that subvolume and those below it, under its own path")
        func subvolumeMount() throws {
            try TestFileSystem.with { fs in
                try fs.createSubvolume("sv")
                try fs.createSubvolume("sv/inner")
                try fs.snapshot("sv", as: "snap", readOnly: true)
                let second = fs.directory + "/svmount"
                try FileManager.default.createDirectory(atPath: second, withIntermediateDirectories: false)
                try Command.run(["mount", "-t", "btrfs", "-o", "subvol=sv", fs.devices[0], second])
                defer { _ = try? Command.run(["umount", second]) }
                let device = try MountTable.current().btrfsEntry(containing: fs.mountPoint).kernelDevice
                let scanner = try CachestatScanner(mounts: [second])
                let roots = try #require(scanner.directories[device])
                #expect(roots[try Subvolumes.id(of: fs.path("sv"))] == second)
                #expect(roots[try Subvolumes.id(of: fs.path("sv/inner"))] == second + "/inner")
                #expect(roots[try Subvolumes.id(of: fs.path("snap"))] == nil)
                #expect(roots[5] == nil)
            }
        }

        @Test("dirty pages are reported as dirtied, exactly")
        func dirtyPages() throws {
            try TestFileSystem.with { fs in
                try fs.writeFile("f", size: 1 << 20, seed: 1)
                try fs.sync()
                try TestFileSystem.dropCaches()
                try MappingFiles.readPages(fs.path("f"), [0..<8])
                // Dirty pages 20 and 21 without syncing (the transaction commits only every 30 s).
                let fd = open(fs.path("f"), O_WRONLY)
                #expect(fd >= 0)
                let bytes = TestData.bytes(count: 8192, seed: 4)
                _ = bytes.withUnsafeBytes { pwrite(fd, $0.baseAddress, 8192, 20 * 4096) }
                close(fd)
                let device = try MountTable.current().btrfsEntry(containing: fs.mountPoint).kernelDevice
                let inode = try MappingFiles.inode(fs.path("f"))
                let sink = ScannerEventSink()
                try CachestatScanner(mounts: [fs.mountPoint]).scanCachedPages(in: .fileSystem(device: device), deliver: sink.deliver)
                let dirty = ScannerEventSink.pages(sink.all, .dirtied, root: 5, inode: inode)
                // Writeback may have started already: under-writeback pages are reported as dirty too.
                #expect(dirty == ExtentSet([20..<22]) || dirty.isEmpty == false && dirty.count <= 2)
                #expect(ScannerEventSink.pages(sink.all, .added, root: 5, inode: inode) == ExtentSet([0..<8, 20..<22]))
                try fs.sync()
            }
        }

        @Test("the polling source reports pages read as added and drop_caches as removed")
        func pollingSource() throws {
            try TestFileSystem.with { fs in
                try fs.writeFile("f", size: 1 << 20, seed: 1)
                try fs.sync()
                try TestFileSystem.dropCaches()
                let device = try MountTable.current().btrfsEntry(containing: fs.mountPoint).kernelDevice
                let inode = try MappingFiles.inode(fs.path("f"))
                let source = CachestatPollingSource(
                    scanner: try CachestatScanner(mounts: [fs.mountPoint]),
                    scope: .fileSystem(device: device), interval: 0.1)
                let sink = ScannerEventSink()
                // The file's times must be older than the baseline sweep, or pages that appear in it
                // count as written. No pause after `start`: it returns once the baseline is taken.
                try waitUntilTimesAreOld(fs.path("f"))
                try source.start(deliver: sink.deliver)
                defer { source.stop() }
                try MappingFiles.readPages(fs.path("f"), [5..<9])
                #expect(sink.wait { ScannerEventSink.pages($0, .added, root: 5, inode: inode) == ExtentSet([5..<9]) })
                #expect(ScannerEventSink.pages(sink.all, .dirtied, root: 5, inode: inode).isEmpty)
                try TestFileSystem.dropCaches()
                #expect(sink.wait { ScannerEventSink.pages($0, .removed, root: 5, inode: inode) == ExtentSet([5..<9]) })
                // A write shows up as added and dirtied: never mistaken for a read.
                let fd = open(fs.path("f"), O_WRONLY)
                let bytes = TestData.bytes(count: 4096, seed: 4)
                _ = bytes.withUnsafeBytes { pwrite(fd, $0.baseAddress, 4096, 100 * 4096) }
                close(fd)
                #expect(sink.wait { ScannerEventSink.pages($0, .dirtied, root: 5, inode: inode).contains(100) })
                #expect(source.sweepStatistics.sweeps >= 3)
                try fs.sync()
            }
        }

        @Test("cost per GiB of cachestat + mincore and of cachestat bisection, fully and sparsely cached")
        func cost() throws {
            try TestFileSystem.with(TestFileSystemOptions(deviceSize: 2 << 30)) { fs in
                let gib = 1 << 30
                // Write 1 GiB in 16 MiB pieces (pattern per piece, incompressible enough for no-compress mounts).
                let fd = open(fs.path("big"), O_WRONLY | O_CREAT, 0o644)
                let piece = TestData.bytes(count: 16 << 20, seed: 8)
                for i in 0..<(gib / piece.count) {
                    _ = piece.withUnsafeBytes { pwrite(fd, $0.baseAddress, $0.count, off_t(i * piece.count)) }
                }
                close(fd)
                try fs.sync()
                let device = try MountTable.current().btrfsEntry(containing: fs.mountPoint).kernelDevice
                let scope = HubScope.fileSystem(device: device)
                var lines: [String] = []
                func measure(_ label: String, expectPages: UInt64, slack: UInt64 = 0) throws {
                    for method in PageResidency.Method.allCases {
                        let scanner = try CachestatScanner(mounts: [fs.mountPoint], method: method)
                        var best = Double.infinity
                        var statistics = CachestatScanner.Statistics()
                        for _ in 0..<3 {
                            var run = CachestatScanner.Statistics()
                            var pages: UInt64 = 0
                            try scanner.sweep(scope, statistics: &run) { pages += $0.resident.count }
                            // Other suites may drop caches meanwhile (drop_caches is machine-wide): never more.
                            #expect(pages <= expectPages, "\(label) \(method): \(pages) pages")
                            if pages + slack < expectPages {
                                lines.append(
                                    "(\(label) \(method): only \(pages) of \(expectPages) pages cached: reclaim or another test dropped caches)"
                                )
                            }
                            if run.seconds < best { best = run.seconds; statistics = run }
                        }
                        lines.append(
                            "\(label): \(method.rawValue) \(String(format: "%.2f", best * 1000)) ms/GiB, \(statistics.syscalls) syscalls")
                    }
                }
                // Fully cached (read after writing; reclaim may still take a few pages).
                try MappingFiles.readWhole(fs.path("big"))
                try measure("100% cached", expectPages: UInt64(gib) / 4096, slack: 256)
                // Every 10th page cached: 26 214 runs of one page.
                try TestFileSystem.dropCaches()
                try MappingFiles.readPages(fs.path("big"), stride(from: 0, to: UInt64(gib) / 4096, by: 10).map { $0..<($0 + 1) })
                try measure("10% cached, 1-page runs", expectPages: (UInt64(gib) / 4096 + 9) / 10)
                // 10% cached in 64 runs of 4 MiB... approximately: 64 runs of 1600 KiB.
                try TestFileSystem.dropCaches()
                try MappingFiles.readPages(fs.path("big"), (0..<64).map { UInt64($0) * 4096..<(UInt64($0) * 4096 + 400) })
                try measure("10% cached, 64 runs", expectPages: 64 * 400)
                try TestFileSystem.dropCaches()
                try measure("0% cached", expectPages: 0)
                FileHandle.standardError.write(Data(("scanner cost (1 GiB file):\n  " + lines.joined(separator: "\n  ") + "\n").utf8))
            }
        }
    }
}

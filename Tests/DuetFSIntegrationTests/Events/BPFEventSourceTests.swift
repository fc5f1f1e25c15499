import DuetFS
import DuetTestSupport
import Foundation
import Testing

/// Whether the eBPF tests run. Under CI=true they always run, and a machine that cannot
/// load the probes fails them with the reason (`BPFGate.requireSupport`); elsewhere they
/// skip with a message on stderr.
private enum BPFGate {
    static var enabled: Bool {
        guard IntegrationGate.enabled else { return false }
        if IntegrationGate.isCI { return true }
        if let reason = obstacle {
            FileHandle.standardError.write(Data("skipping eBPF event source tests: \(reason)\n".utf8))
            return false
        }
        return true
    }

    static var obstacle: String? {
        if let reason = BPFEventSource.unsupportedReason() { return reason }
        if Tools.bpftool == nil { return "bpftool is not installed (apt-get install bpftool)" }
        if Tools.filefrag == nil { return "filefrag is not installed (apt-get install e2fsprogs)" }
        return nil
    }

    /// Records a failure naming what is missing, so that CI never passes without running.
    static func requireSupport() throws {
        if let reason = obstacle {
            throw HarnessError("this machine cannot run the eBPF event source: \(reason)")
        }
    }
}

private enum Tools {
    static func find(_ name: String, also: [String] = []) -> String? {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
        for directory in path.split(separator: ":").map(String.init) + ["/usr/sbin", "/sbin"] + also {
            let candidate = directory + "/" + name
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        return nil
    }

    static var bpftool: String? { find("bpftool") }
    static var filefrag: String? { find("filefrag") }
    /// The C compiler for the kill -9 helper: the Swift toolchain's clang, else cc.
    static var cc: String? { find("clang") ?? find("cc") }
}

/// Collects delivered batches; tests wait on a predicate over everything seen so far.
private final class EventCollector: @unchecked Sendable {
    private let lock = NSLock()
    private var events: [CacheEvent] = []
    private var batches = 0

    func deliver(_ batch: [CacheEvent]) {
        lock.lock()
        events.append(contentsOf: batch)
        batches += 1
        lock.unlock()
    }

    var all: [CacheEvent] {
        lock.lock()
        defer { lock.unlock() }
        return events
    }

    func reset() {
        lock.lock()
        events.removeAll()
        lock.unlock()
    }

    /// Polls until `condition` holds (true) or `seconds` pass (false).
    func wait(seconds: Double = 10, until condition: ([CacheEvent]) -> Bool) -> Bool {
        Eventually.poll(timeout: seconds, every: 0.02) { condition(all) }
    }

    /// Pages covered by events of `kind` for one inode of one root.
    static func pages(_ events: [CacheEvent], _ kind: CacheEvent.Kind, root: UInt64, inode: UInt64) -> Set<UInt64> {
        var pages = Set<UInt64>()
        for event in events where event.kind == kind && event.root == root && event.inode == inode {
            for page in event.firstPage..<(event.firstPage + event.pageCount) { pages.insert(page) }
        }
        return pages
    }
}

private enum BtrfsFacts {
    static func rootID(_ path: String) throws -> UInt64 {
        let text = try Command.run(["btrfs", "inspect-internal", "rootid", path])
        guard let id = UInt64(text.trimmingCharacters(in: .whitespacesAndNewlines)) else {
            throw HarnessError("btrfs inspect-internal rootid \(path) printed \(text)")
        }
        return id
    }

    static func inode(_ path: String) throws -> UInt64 {
        var info = stat()
        guard stat(path, &info) == 0 else { throw HarnessError("stat \(path): \(String(cString: strerror(errno)))") }
        return UInt64(info.st_ino)
    }

    /// FIEMAP as `filefrag -v` prints it: (first file page, btrfs logical byte address, pages).
    static func extents(_ path: String) throws -> [(firstPage: UInt64, logical: UInt64, pages: UInt64)] {
        let text = try Command.run([Tools.filefrag ?? "filefrag", "-v", path])
        var blockSize: UInt64 = 4096
        if let range = text.range(of: #"blocks of (\d+) bytes"#, options: .regularExpression) {
            let digits = text[range].split(separator: " ")[2]
            blockSize = UInt64(digits) ?? 4096
        }
        var out: [(UInt64, UInt64, UInt64)] = []
        for line in text.split(separator: "\n") {
            let fields = line.split(separator: ":").map { $0.trimmingCharacters(in: .whitespaces) }
            guard fields.count >= 4, Int(fields[0]) != nil,
                let fileStart = UInt64(fields[1].components(separatedBy: "..")[0].trimmingCharacters(in: .whitespaces)),
                let physicalStart = UInt64(fields[2].components(separatedBy: "..")[0].trimmingCharacters(in: .whitespaces)),
                let length = UInt64(fields[3])
            else { continue }
            out.append((fileStart * blockSize / pageSize, physicalStart * blockSize, length * blockSize / pageSize))
        }
        return out
    }

    static func readWhole(_ path: String) throws {
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else { throw HarnessError("open \(path): \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        var buffer = [UInt8](repeating: 0, count: 1 << 20)
        while read(fd, &buffer, buffer.count) > 0 {}
    }
}

private func bpfProgramIDs(heldBy pid: String) -> Set<Int> { BPFPrograms.held(by: pid) }

private func loadedBPFPrograms() throws -> [Int: String] { try BPFPrograms.loaded(bpftool: Tools.bpftool ?? "bpftool") }

@Suite("eBPF event source", .enabled(if: BPFGate.enabled), .serialized)
struct BPFEventSourceTests {
    @Test("reads in a subvolume and in its snapshot carry their own root ids; drop_caches reports removal")
    func readsAttributedToRoots() throws {
        try BPFGate.requireSupport()
        try TestFileSystem.with { fs in
            try fs.createSubvolume("sv1")
            let size = 1 << 20
            try fs.writeFile("sv1/data", size: size, seed: 7)
            try fs.sync()
            try fs.snapshot("sv1", as: "snap", readOnly: true)
            try fs.sync()
            let liveRoot = try BtrfsFacts.rootID(fs.path("sv1"))
            let snapRoot = try BtrfsFacts.rootID(fs.path("snap"))
            let inode = try BtrfsFacts.inode(fs.path("sv1/data"))
            #expect(try BtrfsFacts.inode(fs.path("snap/data")) == inode)
            #expect(liveRoot != snapRoot)
            let device = try MountTable.current().btrfsEntry(containing: fs.mountPoint).kernelDevice
            try TestFileSystem.dropCaches()

            let source = try BPFEventSource(mounts: [fs.mountPoint])
            #expect(source.devices == [device])
            let collector = EventCollector()
            try source.start(deliver: collector.deliver)
            defer { source.stop() }

            try BtrfsFacts.readWhole(fs.path("sv1/data"))
            try BtrfsFacts.readWhole(fs.path("snap/data"))
            let allPages = Set(UInt64(0)..<UInt64(size) / pageSize)
            let sawAdds = collector.wait { events in
                EventCollector.pages(events, .added, root: liveRoot, inode: inode).isSuperset(of: allPages)
                    && EventCollector.pages(events, .added, root: snapRoot, inode: inode).isSuperset(of: allPages)
            }
            let added = collector.all
            #expect(
                sawAdds,
                "added pages: live \(EventCollector.pages(added, .added, root: liveRoot, inode: inode).count), snapshot \(EventCollector.pages(added, .added, root: snapRoot, inode: inode).count) of \(allPages.count)"
            )
            #expect(added.allSatisfy { $0.device == device })
            // Nothing of this inode number is attributed to a root that was not read.
            #expect(added.filter { $0.inode == inode && $0.kind == .added }.allSatisfy { $0.root == liveRoot || $0.root == snapRoot })

            try TestFileSystem.dropCaches()
            let sawRemovals = collector.wait { events in
                EventCollector.pages(events, .removed, root: liveRoot, inode: inode).isSuperset(of: allPages)
                    && EventCollector.pages(events, .removed, root: snapRoot, inode: inode).isSuperset(of: allPages)
            }
            #expect(
                sawRemovals,
                "removed pages: live \(EventCollector.pages(collector.all, .removed, root: liveRoot, inode: inode).count), snapshot \(EventCollector.pages(collector.all, .removed, root: snapRoot, inode: inode).count)"
            )

            source.stop()
            let statistics = source.statistics
            #expect(statistics.lost == 0)
            #expect(statistics.delivered == UInt64(collector.all.count))
            // Sequential reads and evictions are merged in the kernel into runs: far fewer records
            // than the 4 × pages page events they stand for.
            #expect(statistics.delivered <= UInt64(allPages.count), "records for \(4 * allPages.count) page events")
        }
    }

    @Test("a write reports dirtied pages, writeback, and the logical address FIEMAP shows")
    func writeReportsLogicalAddress() throws {
        try BPFGate.requireSupport()
        try TestFileSystem.with { fs in
            try fs.createSubvolume("sv1")
            let root = try BtrfsFacts.rootID(fs.path("sv1"))
            let source = try BPFEventSource(mounts: [fs.path("sv1")])
            let collector = EventCollector()
            try source.start(deliver: collector.deliver)
            defer { source.stop() }

            let path = fs.path("sv1/written")
            let pages: UInt64 = 75
            let fd = open(path, O_CREAT | O_WRONLY | O_TRUNC, 0o644)
            #expect(fd >= 0)
            let bytes = TestData.bytes(count: Int(pages * pageSize), seed: 3)
            #expect(write(fd, bytes, bytes.count) == bytes.count)
            #expect(fsync(fd) == 0)
            close(fd)
            let inode = try BtrfsFacts.inode(path)
            let all = Set(UInt64(0)..<pages)

            let complete = collector.wait { events in
                EventCollector.pages(events, .dirtied, root: root, inode: inode).isSuperset(of: all)
                    && EventCollector.pages(events, .writebackStarted, root: root, inode: inode).isSuperset(of: all)
                    && EventCollector.pages(events, .writebackFinished, root: root, inode: inode).isSuperset(of: all)
                    && EventCollector.pages(events, .extentWritten, root: root, inode: inode).isSuperset(of: all)
            }
            let events = collector.all
            #expect(
                complete,
                "dirtied \(EventCollector.pages(events, .dirtied, root: root, inode: inode).count), writeback started \(EventCollector.pages(events, .writebackStarted, root: root, inode: inode).count), finished \(EventCollector.pages(events, .writebackFinished, root: root, inode: inode).count), extent written \(EventCollector.pages(events, .extentWritten, root: root, inode: inode).count) of \(pages) pages"
            )

            let extents = try BtrfsFacts.extents(path)
            #expect(!extents.isEmpty)
            let written = events.filter { $0.kind == .extentWritten && $0.inode == inode && $0.root == root }
            #expect(!written.isEmpty)
            for event in written {
                // btrfs FIEMAP reports logical addresses as "physical".
                let extent = extents.first { event.firstPage >= $0.firstPage && event.firstPage < $0.firstPage + $0.pages }
                #expect(extent != nil, "no FIEMAP extent holds page \(event.firstPage): \(extents)")
                if let extent {
                    #expect(
                        event.logical == extent.logical + (event.firstPage - extent.firstPage) * pageSize,
                        "extentWritten at page \(event.firstPage) says logical \(event.logical); FIEMAP: \(extents)")
                }
            }
            #expect(written.allSatisfy { $0.logical != 0 })
        }
    }

    @Test("events of a btrfs that is not watched are filtered out in the kernel")
    func unwatchedFileSystemIsSilent() throws {
        try BPFGate.requireSupport()
        try TestFileSystem.with(TestFileSystemOptions(deviceSize: 256 << 20)) { watchedFS in
            try TestFileSystem.with(TestFileSystemOptions(deviceSize: 256 << 20)) { otherFS in
                try watchedFS.writeFile("a", size: 256 << 10, seed: 1)
                try otherFS.writeFile("b", size: 256 << 10, seed: 2)
                let table = try MountTable.current()
                let watchedDevice = try table.btrfsEntry(containing: watchedFS.mountPoint).kernelDevice
                let otherDevice = try table.btrfsEntry(containing: otherFS.mountPoint).kernelDevice
                #expect(watchedDevice != otherDevice)
                try TestFileSystem.dropCaches()

                let source = try BPFEventSource(mounts: [watchedFS.mountPoint])
                let collector = EventCollector()
                try source.start(deliver: collector.deliver)
                defer { source.stop() }
                try BtrfsFacts.readWhole(otherFS.path("b"))
                try BtrfsFacts.readWhole(watchedFS.path("a"))
                let inode = try BtrfsFacts.inode(watchedFS.path("a"))
                #expect(collector.wait { EventCollector.pages($0, .added, root: 5, inode: inode).count == 64 })
                source.stop()
                #expect(collector.all.allSatisfy { $0.device == watchedDevice })
            }
        }
    }

    @Test("records that do not fit in the ring buffer are counted as lost, never dropped silently")
    func overflowIsCounted() throws {
        try BPFGate.requireSupport()
        try TestFileSystem.with { fs in
            let size = 4 << 20
            try fs.writeFile("big", size: size, seed: 5)
            try TestFileSystem.dropCaches()
            // One page of ring buffer (about 73 records) and a consumer that stalls on its first
            // batch until every read is done, so the reads' records cannot all fit.
            let source = try BPFEventSource(
                mounts: [fs.mountPoint],
                configuration: .init(ringBufferBytes: 4096, pollIntervalMilliseconds: 50))
            let collector = EventCollector()
            let stalled = EventCounter()
            let readsDone = DispatchSemaphore(value: 0)
            try source.start { batch in
                if stalled.count == 0 {
                    _ = readsDone.wait(timeout: .now() + 30)
                    readsDone.signal()  // for a later batch, should this one have been empty
                }
                stalled.deliver(batch)
                collector.deliver(batch)
            }
            defer { source.stop() }
            // Backwards, one page at a time, without readahead: no two events continue each other,
            // so none are merged and every page takes a record.
            let fd = open(fs.path("big"), O_RDONLY)
            #expect(fd >= 0)
            _ = posix_fadvise(fd, 0, 0, POSIX_FADV_RANDOM)
            var page = [UInt8](repeating: 0, count: Int(pageSize))
            for index in (0..<(size / Int(pageSize))).reversed() {
                _ = pread(fd, &page, page.count, off_t(index) * off_t(pageSize))
            }
            close(fd)
            readsDone.signal()
            source.stop()  // drains what the ring buffer holds before it returns
            let statistics = source.statistics
            let inode = try BtrfsFacts.inode(fs.path("big"))
            let seen = UInt64(collector.all.filter { $0.inode == inode && $0.kind == .added }.count)
            #expect(statistics.lost > 0)
            #expect(seen < UInt64(size) / pageSize)
            #expect(
                statistics.delivered + statistics.lost >= UInt64(size) / pageSize,
                "delivered \(statistics.delivered) + lost \(statistics.lost)")
        }
    }

    @Test("stop() detaches every program the source loaded")
    func stopDetaches() throws {
        try BPFGate.requireSupport()
        try TestFileSystem.with { fs in
            let source = try BPFEventSource(mounts: [fs.mountPoint])
            let before = bpfProgramIDs(heldBy: "self")
            try source.start { _ in }
            let ours = bpfProgramIDs(heldBy: "self").subtracting(before)
            #expect(ours.count == 7, "programs this source holds (six probes and the run flush): \(ours)")
            source.stop()
            #expect(bpfProgramIDs(heldBy: "self").isDisjoint(with: ours), "stop() left descriptors open")
            // The kernel frees a released program after an RCU grace period, not synchronously.
            var remaining: [Int] = []
            let gone = Eventually.poll(timeout: 5) {
                remaining = ((try? loadedBPFPrograms()) ?? [:]).keys.filter { ours.contains($0) }
                return remaining.isEmpty
            }
            #expect(gone, "still loaded 5 s after stop(): \(remaining)")
        }
    }

    @Test("after kill -9 of the process holding the probes, none of its programs stays loaded")
    func killedProcessLeavesNoPrograms() throws {
        try BPFGate.requireSupport()
        let helper = try KillHelper.build()
        defer { try? FileManager.default.removeItem(atPath: (helper as NSString).deletingLastPathComponent) }
        try TestFileSystem.with { fs in
            let device = try MountTable.current().btrfsEntry(containing: fs.mountPoint).kernelDevice
            let process = Process()
            process.executableURL = URL(fileURLWithPath: helper)
            process.arguments = [String(device)]
            let output = Pipe()
            process.standardOutput = output
            process.standardError = output
            try process.run()
            var text = ""
            let deadline = Date().addingTimeInterval(20)
            while !text.contains("ready"), Date() < deadline, process.isRunning {
                let data = output.fileHandleForReading.availableData
                if data.isEmpty { break }
                text += String(decoding: data, as: UTF8.self)
            }
            #expect(text.contains("ready"), "helper did not load the probes: \(text)")
            let held = bpfProgramIDs(heldBy: String(process.processIdentifier))
            #expect(held.count == 7, "programs held by the helper: \(held)")
            let loaded = try loadedBPFPrograms()
            #expect(held.allSatisfy { loaded[$0]?.hasPrefix("duet_") == true }, "\(held) vs \(loaded)")

            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
            #expect(process.terminationReason == .uncaughtSignal)
            var remaining: [Int: String] = [:]
            let gone = Eventually.poll(timeout: 5) {
                remaining = (try? loadedBPFPrograms().filter { held.contains($0.key) }) ?? [:]
                return remaining.isEmpty
            }
            #expect(gone, "programs still loaded after kill -9: \(remaining)")
        }
    }

    @Test("a path outside btrfs is refused with a message that names it")
    func refusesNonBtrfs() throws {
        try BPFGate.requireSupport()
        #expect(throws: DuetError.self) { try BPFEventSource(mounts: ["/proc"]) }
        do {
            _ = try BPFEventSource(mounts: ["/proc"])
        } catch let error as DuetError {
            #expect(error.kind == .notBtrfs)
            #expect(error.message.contains("/proc") && error.message.contains("proc"))
        }
        let none = BPFEventSource(devices: [])
        #expect(throws: DuetError.self) { try none.start { _ in } }
    }
}

/// Foreground cost of the eBPF source: pread of a 64 MiB file + POSIX_FADV_DONTNEED in a loop
/// (one add and one remove event per page), alternating source off and on. Not a pass/fail
/// test: run with DUET_BPF_BENCH=1 (seconds per phase in DUET_BPF_BENCH_SECONDS, default 4).
@Suite("eBPF event source benchmark", .enabled(if: ProcessInfo.processInfo.environment["DUET_BPF_BENCH"] == "1"), .serialized)
struct BPFEventSourceBenchmark {
    @Test("page-cache loop with the source off and on")
    func pageCacheLoop() throws {
        try BPFGate.requireSupport()
        let seconds = Double(ProcessInfo.processInfo.environment["DUET_BPF_BENCH_SECONDS"] ?? "") ?? 4
        try TestFileSystem.with(TestFileSystemOptions(deviceSize: 1 << 30)) { fs in
            let size = 64 << 20
            try fs.writeFile("big", size: size, seed: 11)
            try fs.sync()
            let fd = open(fs.path("big"), O_RDONLY)
            #expect(fd >= 0)
            defer { close(fd) }
            var buffer = [UInt8](repeating: 0, count: 1 << 20)
            func cpuMicroseconds(_ who: Int32) -> Double {
                var usage = rusage()
                getrusage(__rusage_who_t(who), &usage)
                return Double(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) * 1e6
                    + Double(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec)
            }
            let thread: Int32 = 1  // RUSAGE_THREAD
            var lastCPUPerPage = 0.0
            func loop() -> Double {
                let start = Date()
                let cpuStart = cpuMicroseconds(thread)
                var pages = 0
                while Date().timeIntervalSince(start) < seconds {
                    var offset = 0
                    while offset < size {
                        _ = pread(fd, &buffer, buffer.count, off_t(offset))
                        offset += buffer.count
                    }
                    pages += size / Int(pageSize)
                    posix_fadvise(fd, 0, 0, Int32(POSIX_FADV_DONTNEED))
                }
                let rate = Double(pages) / Date().timeIntervalSince(start)
                let perPage = (cpuMicroseconds(thread) - cpuStart) * 1000 / Double(pages)
                lastCPUPerPage = perPage
                return rate
            }
            var lines: [String] = []
            for round in 1...3 {
                let off = loop()
                let offCPU = lastCPUPerPage
                let source = try BPFEventSource(mounts: [fs.mountPoint])
                let counter = EventCounter()
                try source.start(deliver: counter.deliver)
                let start = Date()
                let on = loop()
                let onCPU = lastCPUPerPage
                source.stop()
                let elapsed = Date().timeIntervalSince(start)
                let statistics = source.statistics
                let readerNanosPerEvent = Double(source.readerCPUNanoseconds) / Double(max(statistics.delivered, 1))
                lines.append(
                    String(
                        format:
                            "round %d: off %.0f pages/s, on %.0f pages/s (%.1f%% slower); workload CPU %.0f -> %.0f ns/page (%+.1f%%); %.0f events/s delivered, %llu lost; reader %.0f ns/event",
                        round, off, on, (off - on) / off * 100, offCPU, onCPU, (onCPU - offCPU) / offCPU * 100,
                        Double(statistics.delivered) / elapsed, statistics.lost, readerNanosPerEvent))
            }
            for line in lines { print("bpf-bench: " + line) }
        }
    }
}

private final class EventCounter: @unchecked Sendable {
    private let lock = NSLock()
    private(set) var count = 0
    func deliver(_ batch: [CacheEvent]) {
        lock.lock()
        count += batch.count
        lock.unlock()
    }
}

/// A tiny C program that loads the probes through the same loader (Sources/CDuetBPF/loader.c),
/// prints "ready" and waits to be killed. Built at test time with the toolchain's clang, so the
/// package needs no extra executable target.
private enum KillHelper {
    static let source = """
        #include "duet_bpf.h"
        #include <stdio.h>
        #include <stdlib.h>
        #include <unistd.h>
        int main(int argc, char **argv) {
            unsigned int device = argc > 1 ? (unsigned int)strtoul(argv[1], 0, 0) : 0;
            struct duet_bpf_options options = { &device, 1, 1 << 20, 0 };
            struct duet_bpf_handle *handle;
            char error[8192];
            if (duet_bpf_open(&options, &handle, error, sizeof error)) { fprintf(stderr, "%s\\n", error); return 1; }
            printf("ready\\n");
            fflush(stdout);
            for (;;) duet_bpf_poll(handle, 1000, 0, 0);
        }
        """

    static func build() throws -> String {
        guard let cc = Tools.cc else { throw HarnessError("no C compiler (clang or cc) to build the kill -9 helper") }
        let cDuetBPF = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("Sources/CDuetBPF").path
        let directory = NSTemporaryDirectory() + "duet-bpf-helper-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let main = directory + "/hold.c"
        let binary = directory + "/hold"
        try source.write(toFile: main, atomically: true, encoding: .utf8)
        try Command.run([
            cc, "-O1", "-I", cDuetBPF + "/include", "-I", cDuetBPF, main, cDuetBPF + "/loader.c",
            "-o", binary, "-lbpf", "-lpthread"
        ])
        return binary
    }
}

/// mountinfo parsing needs no privileges.
@Suite("mount table")
struct MountTableResolutionTests {
    @Test("parses mountinfo lines, octal escapes and the kernel device encoding")
    func parses() throws {
        let text = """
            43 27 0:39 / /tmp/duet\\040test/mnt rw,relatime shared:1 - btrfs /dev/loop0 rw,space_cache=v2,subvolid=5,subvol=/
            44 43 0:39 /sv1 /srv/sv1 rw,relatime - btrfs /dev/loop0 rw,subvolid=256,subvol=/sv1
            22 1 259:1 / / rw - ext4 /dev/nvme0n1p1 rw
            """
        let table = try MountTable(parsing: text)
        #expect(table.entries.count == 3)
        #expect(table.entries[0].mountPoint == "/tmp/duet test/mnt")
        #expect(table.entries[0].kernelDevice == 39)
        #expect(table.entries[1].root == "/sv1")
        #expect(table.entries[2].kernelDevice == (259 << 20 | 1))
        #expect(table.entries[2].fileSystemType == "ext4")
        #expect(table.entries(kernelDevice: 39).count == 2)
        #expect(throws: DuetError.self) { try MountTable(parsing: "garbage line") }
    }

    @Test("finds the mount that holds a path")
    func findsRoot() throws {
        let table = try MountTable.current()
        let root = try table.entry(containing: "/")
        #expect(root.mountPoint == "/")
        let proc = try table.entry(containing: "/proc/self")
        #expect(proc.fileSystemType == "proc")
    }
}

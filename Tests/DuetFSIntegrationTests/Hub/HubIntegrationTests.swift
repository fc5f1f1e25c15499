import DuetFS
import DuetTestSupport
import Foundation
import Testing

/// The hub fed by real eBPF events from a real btrfs.
@Suite(.enabled(if: IntegrationGate.enabled), .serialized)
struct HubIntegrationTests {
    static func read(_ path: String) throws {
        guard let handle = FileHandle(forReadingAtPath: path) else { throw HarnessError("cannot open \(path)") }
        defer { try? handle.close() }
        while let chunk = try handle.read(upToCount: 1 << 20), !chunk.isEmpty {}
    }

    static func inode(_ path: String) throws -> UInt64 {
        var status = stat()
        guard stat(path, &status) == 0 else { throw HarnessError("stat \(path)") }
        return UInt64(status.st_ino)
    }

    static func forwarder(to hub: Hub, _ sink: ScannerEventSink) -> @Sendable ([CacheEvent]) -> Void {
        {
            hub.ingest($0); sink.deliver($0)
        }
    }

    /// Whether `events` hold both 1 MiB files read (all 256 pages of each) and `evicted` evicted.
    static func sawReadsAndEviction(_ events: [CacheEvent], kept: UInt64, evicted: UInt64) -> Bool {
        ScannerEventSink.pages(events, .added, root: 5, inode: kept).count >= 256
            && ScannerEventSink.pages(events, .added, root: 5, inode: evicted).count >= 256
            && ScannerEventSink.pages(events, .removed, root: 5, inode: evicted).count >= 256
    }

    @Test("state-based tasks see a read then an eviction cancel out; event-based tasks see both")
    func stateModelCancels() throws {
        if let reason = BPFEventSource.unsupportedReason() {
            try #require(!IntegrationGate.isCI, "eBPF unavailable under CI: \(reason)")
            return
        }
        try TestFileSystem.with(.init()) { testFS in
            try testFS.writeFile("kept", size: 1 << 20, seed: 1)
            try testFS.writeFile("evicted", size: 1 << 20, seed: 2)
            try testFS.sync()
            try TestFileSystem.dropCaches()
            let device = try MountTable.current().btrfsEntry(containing: testFS.mountPoint).kernelDevice
            let hub = Hub()
            let state = hub.register(scope: .fileSystem(device: device), model: .stateBased, keySpace: .pages)
            let events = hub.register(scope: .fileSystem(device: device), model: .eventBased, keySpace: .pages)
            let source = try BPFEventSource(mounts: [testFS.mountPoint])
            let sink = ScannerEventSink()
            try source.start(deliver: Self.forwarder(to: hub, sink))
            try Self.read(testFS.path("kept"))
            try Self.read(testFS.path("evicted"))
            let evicted = open(testFS.path("evicted"), O_RDONLY)
            posix_fadvise(evicted, 0, 0, POSIX_FADV_DONTNEED)
            close(evicted)
            let kept = try Self.inode(testFS.path("kept"))
            let gone = try Self.inode(testFS.path("evicted"))
            // The hub has been given both reads and the eviction.
            let heard = Eventually.poll(timeout: 15) { Self.sawReadsAndEviction(sink.all, kept: kept, evicted: gone) }
            try #require(heard, "the events of both reads and of the eviction did not arrive within 15 s")
            source.stop()

            let stateItems = state.fetch(max: 10_000).filter { $0.inode == kept || $0.inode == gone }
            #expect(stateItems.allSatisfy { $0.inode == kept && $0.kinds.contains(.added) })
            #expect(stateItems.reduce(0) { $0 + $1.pageCount } == 256, "the kept file's pages, once each")
            let eventItems = events.fetch(max: 10_000).filter { $0.inode == gone }
            #expect(eventItems.reduce(0) { $0 + $1.pageCount } == 256)
            #expect(eventItems.allSatisfy { $0.kinds.contains(.added) && $0.kinds.contains(.removed) })
        }
    }

    @Test("a task registered with the cachestat scan learns pages cached before it started")
    func scanAtRegistration() throws {
        try TestFileSystem.with(.init()) { testFS in
            try testFS.writeFile("early", size: 1 << 20, seed: 3)
            try testFS.sync()
            try TestFileSystem.dropCaches()
            try Self.read(testFS.path("early"))
            let device = try MountTable.current().btrfsEntry(containing: testFS.mountPoint).kernelDevice
            let task = try Hub().register(
                scope: .fileSystem(device: device), model: .stateBased, keySpace: .pages,
                scanner: CachestatScanner(mounts: [testFS.mountPoint]))
            let inode = try Self.inode(testFS.path("early"))
            let items = task.fetch(max: 10_000).filter { $0.inode == inode }
            #expect(items.reduce(0) { $0 + $1.pageCount } == 256)
            #expect(items.allSatisfy { $0.root == 5 && $0.kinds.contains(.added) })
        }
    }
}

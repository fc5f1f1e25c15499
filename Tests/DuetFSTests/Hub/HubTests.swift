import Synchronization
import Testing

@testable import DuetFS

@Suite("Hub: dedup, scope, done filtering, scan at registration, overflow")
struct HubTests {
    typealias F = HubFixture

    @Test("one item per run of pages: repeated and overlapping events deduplicate per page")
    func dedupPerPage() {
        let hub = Hub()
        let task = F.register(hub)
        hub.ingest([F.event(.added, page: 0, count: 8), F.event(.added, page: 4, count: 8), F.event(.added, page: 2)])
        hub.ingest([F.event(.added, page: 0, count: 12)])
        hub.ingest([F.event(.dirtied, page: 5)])
        let items = task.fetch(max: 100)
        #expect(
            items == [
                HubItem(root: F.root, inode: F.inode, firstPage: 0, pageCount: 5, kinds: .added),
                HubItem(root: F.root, inode: F.inode, firstPage: 5, pageCount: 1, kinds: [.added, .dirtied]),
                HubItem(root: F.root, inode: F.inode, firstPage: 6, pageCount: 6, kinds: .added)
            ])
        #expect(task.statistics.pendingPages == 0)
    }

    @Test("same inode number in two subvolumes is two files")
    func rootsSeparateFiles() {
        let hub = Hub()
        let task = F.register(hub)
        hub.ingest([F.event(.added, page: 0, root: 256), F.event(.added, page: 0, root: 300)])
        #expect(Set(task.fetch(max: 10).map(\.root)) == [256, 300])
    }

    @Test("scope: other devices, other subvolumes and unattributed roots are not delivered")
    func scope() {
        let hub = Hub()
        let subvolume = hub.register(scope: .subvolumes([256], device: F.device), model: .eventBased, keySpace: .pages)
        let whole = F.register(hub)
        hub.ingest([
            F.event(.added, page: 0, root: 256), F.event(.added, page: 1, root: 257),
            F.event(.added, page: 2, root: 0), F.event(.added, page: 3, device: 7)
        ])
        #expect(subvolume.fetch(max: 10).map(\.firstPage) == [0])
        #expect(Set(whole.fetch(max: 10).map(\.firstPage)) == [0, 1, 2], "root 0 only for a whole-file-system scope")
        #expect(HubScope.subvolumes([256], device: 1).adding(device: 1).contains(device: 1, root: 999))
    }

    @Test("event mask: kinds not asked for are not delivered")
    func eventMask() {
        let hub = Hub()
        let task = F.register(hub, eventMask: [.dirtied])
        hub.ingest([F.event(.added, page: 0), F.event(.dirtied, page: 1)])
        #expect(task.fetch(max: 10).map(\.firstPage) == [1])
    }

    @Test("fetch(max:) hands out items in order, files first-come, lowest pages first, and keeps the rest")
    func fetchLimits() {
        let hub = Hub()
        let task = F.register(hub)
        hub.ingest([
            F.event(.added, page: 10, inode: 500), F.event(.added, page: 30, inode: 500),
            F.event(.added, page: 20, inode: 500), F.event(.added, page: 1, inode: 400)
        ])
        #expect(task.fetch(max: 2).map { [$0.inode, $0.firstPage] } == [[500, 10], [500, 20]])
        #expect(task.fetch(max: 2).map { [$0.inode, $0.firstPage] } == [[500, 30], [400, 1]])
        #expect(task.fetch(max: 2).isEmpty)
        #expect(task.fetch(max: 0).isEmpty)
    }

    @Test("done pages are filtered at ingest and at fetch (pages key space)")
    func doneFilteringPages() {
        let hub = Hub()
        let task = F.register(hub)
        let file = DoneDomain.file(root: F.root, inode: F.inode)
        task.markDone(0..<4, in: file)
        hub.ingest([F.event(.added, page: 0, count: 8)])
        #expect(task.statistics.pagesFilteredDone == 4)
        task.markDone(6..<7, in: file)
        #expect(task.fetch(max: 10).map(\.pages) == [4..<6, 7..<8], "page 6 was marked done after it arrived")
        #expect(task.statistics.pagesFilteredDone == 5)
        task.markUndone(0..<4, in: file)
        hub.ingest([F.event(.added, page: 0, count: 2)])
        #expect(task.fetch(max: 10).map(\.pages) == [0..<2])
        #expect(task.isDone(6..<7, in: file))
    }

    @Test("done inodes are filtered (inodes key space)")
    func doneFilteringInodes() {
        let hub = Hub()
        let task = F.register(hub, keySpace: .inodes)
        task.markDone(F.inode..<F.inode + 1, in: .subvolume(F.root))
        hub.ingest([F.event(.added, page: 0, count: 8), F.event(.added, page: 0, inode: 900)])
        #expect(task.fetch(max: 10).map(\.inode) == [900])
    }

    @Test("done logical ranges are filtered through the mapper (logical key space)")
    func doneFilteringLogical() {
        let hub = Hub()
        let mapper = ContiguousMapper(bases: [F.inode: 1 << 20])
        let task = F.register(hub, keySpace: .logical(mapper))
        task.markDone(logical: (1 << 20)..<(1 << 20) + 4 * pageSize)  // pages 0..<4
        task.markDone(logical: (1 << 20) + 6 * pageSize..<(1 << 20) + 7 * pageSize)  // page 6
        hub.ingest([F.event(.added, page: 0, count: 8), F.event(.added, page: 0, count: 2, inode: 999)])
        let items = task.fetch(max: 10)
        #expect(items.filter { $0.inode == F.inode }.map(\.pages) == [4..<6, 7..<8])
        #expect(items.filter { $0.inode == 999 }.map(\.pages) == [0..<2], "unmapped pages are kept: nothing proves them done")
        #expect(task.isDone(logical: (1 << 20)..<(1 << 20) + pageSize))
    }

    @Test("kinds in deliverEvenIfDone reach the task for done work")
    func deliverEvenIfDone() {
        let hub = Hub()
        let task = F.register(hub, options: HubTaskOptions(deliverEvenIfDone: [.dirtied]))
        task.markDone(0..<10, in: .file(root: F.root, inode: F.inode))
        hub.ingest([F.event(.added, page: 0), F.event(.dirtied, page: 1)])
        #expect(task.fetch(max: 10).map(\.firstPage) == [1])
    }

    @Test("scan at registration reports pages cached before the task started")
    func scanAtRegistration() throws {
        let hub = Hub()
        let early = [F.event(.added, page: 0, count: 16), F.event(.dirtied, page: 3), F.event(.added, page: 0, device: 9)]
        let task = hub.register(scope: .fileSystem(device: F.device), model: .stateBased, keySpace: .pages, initialScan: early)
        #expect(task.fetch(max: 10).map(\.pages) == [0..<3, 3..<4, 4..<16], "the scan is filtered by scope like live events")
        let other = try hub.register(
            scope: .fileSystem(device: F.device), model: .eventBased, keySpace: .pages,
            scanner: RecordedPageScan(early))
        #expect(other.fetch(max: 10).count == 3)
        #expect(throws: FailingScanner.Failure.self) {
            try hub.register(scope: .fileSystem(device: F.device), model: .eventBased, keySpace: .pages, scanner: FailingScanner())
        }
        #expect(hub.taskCount == 2, "a task whose scan failed is deregistered")
    }

    @Test("pending pages are capped and the overflow is counted, never silent")
    func overflowCounted() {
        let hub = Hub()
        let task = F.register(hub, options: HubTaskOptions(pendingPageLimit: 10))
        hub.ingest([F.event(.added, page: 0, count: 8), F.event(.added, page: 100, count: 8)])
        #expect(task.statistics.pendingPages == 10)
        #expect(task.statistics.pagesOverflowed == 6)
        // Pages already pending still take new kinds at the limit.
        hub.ingest([F.event(.dirtied, page: 0)])
        #expect(task.statistics.pagesOverflowed == 6)
        #expect(task.takeOverflow() == 6)
        #expect(task.takeOverflow() == 0, "taken once")
        #expect(task.fetch(max: 100).reduce(0) { $0 + $1.pageCount } == 10)
        hub.ingest([F.event(.added, page: 200, count: 4)])
        #expect(task.fetch(max: 100).map(\.pages) == [200..<204], "capacity returns after a fetch")
    }

    @Test("deregister stops delivery and frees state")
    func deregister() {
        let hub = Hub()
        let task = F.register(hub)
        hub.ingest([F.event(.added, page: 0)])
        task.deregister()
        hub.ingest([F.event(.added, page: 1)])
        #expect(!task.isRegistered)
        #expect(task.fetch(max: 10).isEmpty)
        #expect(hub.taskCount == 0)
    }

    @Test("state-based churn without fetches keeps the fetch queue bounded")
    func churnStaysBounded() {
        let hub = Hub()
        let task = F.register(hub, model: .stateBased)
        for round in 0..<2000 {
            let inode = UInt64(round % 50)
            hub.ingest([F.event(.added, page: 0, inode: inode), F.event(.removed, page: 0, inode: inode)])
        }
        #expect(task.statistics.pendingPages == 0)
        #expect(task.fetch(max: 10).isEmpty)
    }

    @Test("concurrent ingest and fetch lose no page")
    func concurrentIngest() async {
        let hub = Hub()
        let task = F.register(hub)
        let fetched = PageCollector()
        await withTaskGroup(of: Void.self) { group in
            for writer in 0..<4 {
                group.addTask {
                    for batch in 0..<250 {
                        let page = UInt64(writer * 1000 + batch * 4)
                        hub.ingest([F.event(.added, page: page, count: 2)])
                    }
                }
            }
            group.addTask {
                for _ in 0..<200 {
                    let items = task.fetch(max: 64)
                    fetched.add(items)
                }
            }
        }
        let rest = task.fetch(max: 100_000)
        fetched.add(rest)
        #expect(fetched.count == 4 * 250 * 2)
    }
}

/// Pages fetched by concurrent test tasks.
private final class PageCollector: Sendable {
    private let pages = Mutex<Set<UInt64>>([])

    func add(_ items: [HubItem]) {
        pages.withLock { set in for item in items { set.formUnion(item.pages) } }
    }

    var count: Int { pages.withLock { $0.count } }
}

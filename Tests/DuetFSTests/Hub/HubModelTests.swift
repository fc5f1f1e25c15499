import Testing

@testable import DuetFS

@Suite("Hub models: event-based OR, state-based cancellation")
struct HubModelTests {
    typealias F = HubFixture

    @Test("event-based: the OR of every kind seen on a page since the last fetch")
    func eventBasedOrs() {
        let hub = Hub()
        let task = F.register(hub, model: .eventBased)
        hub.ingest([
            F.event(.added, page: 0), F.event(.dirtied, page: 0), F.event(.writebackStarted, page: 0),
            F.event(.writebackFinished, page: 0), F.event(.removed, page: 0)
        ])
        #expect(
            task.fetch(max: 10) == [
                HubItem(
                    root: F.root, inode: F.inode, firstPage: 0, pageCount: 1,
                    kinds: [.added, .dirtied, .writebackStarted, .writebackFinished, .removed])
            ])
        #expect(task.fetch(max: 10).isEmpty, "a fetch clears what it returned")
        hub.ingest([F.event(.added, page: 0)])
        #expect(task.fetch(max: 10).map(\.kinds) == [.added], "the next fetch starts from nothing")
    }

    @Test("state-based: added then removed cancels, and removed then added")
    func stateBasedPresenceCancels() {
        let hub = Hub()
        let task = F.register(hub, model: .stateBased)
        hub.ingest([F.event(.added, page: 0, count: 4), F.event(.removed, page: 0, count: 4)])
        #expect(task.fetch(max: 10).isEmpty)
        #expect(task.statistics.pagesCancelled == 4)
        hub.ingest([F.event(.removed, page: 7), F.event(.added, page: 7)])
        #expect(task.fetch(max: 10).isEmpty)
        // Half cancelled: pages 2 and 3 stay added.
        hub.ingest([F.event(.added, page: 0, count: 4), F.event(.removed, page: 0, count: 2)])
        #expect(task.fetch(max: 10) == [HubItem(root: F.root, inode: F.inode, firstPage: 2, pageCount: 2, kinds: .added)])
    }

    @Test("state-based: dirtied then writeback finished cancels; writeback started changes nothing")
    func stateBasedModificationCancels() {
        let hub = Hub()
        let task = F.register(hub, model: .stateBased)
        hub.ingest([F.event(.dirtied, page: 3), F.event(.writebackStarted, page: 3), F.event(.writebackFinished, page: 3)])
        #expect(task.fetch(max: 10).isEmpty)
        hub.ingest([F.event(.added, page: 3), F.event(.dirtied, page: 3)])
        #expect(task.fetch(max: 10).map(\.kinds) == [[.added, .dirtied]])
        hub.ingest([F.event(.writebackFinished, page: 3)])
        #expect(task.fetch(max: 10).map(\.kinds) == [.writebackFinished], "a page cleaned since the last fetch is a net change")
    }

    @Test("state-based: extent written passes through as a fact")
    func stateBasedExtentWritten() {
        #expect(HubModel.stateBased.apply(.extentWritten, to: []) == .extentWritten)
        #expect(HubModel.stateBased.apply(.writebackStarted, to: .dirtied) == .dirtied)
    }
}

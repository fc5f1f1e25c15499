import DuetTestSupport
import Testing

@testable import DuetFS

/// The hub against a naive model that keeps one kinds byte per page and a set of done pages.
@Suite("Hub randomized against a per-page model")
struct HubRandomizedTests {
    typealias F = HubFixture
    struct Page: Hashable { var inode: UInt64; var page: UInt64 }

    @Test(
        "event-based and state-based, with done marks and partial fetches",
        arguments: [(HubModel.eventBased, 31 as UInt64), (.eventBased, 32), (.stateBased, 33), (.stateBased, 34)])
    func matchesModel(model: HubModel, seed: UInt64) {
        var rng = SeededGenerator(seed: seed)
        let hub = Hub()
        let task = F.register(hub, model: model)
        var pending: [Page: CacheEventKinds] = [:]
        var done: [UInt64: Set<UInt64>] = [:]
        for step in 0..<800 {
            switch UInt64.random(in: 0..<10, using: &rng) {
            case 0:
                let inode = UInt64.random(in: 1...3, using: &rng)
                let first = UInt64.random(in: 0..<40, using: &rng)
                let range = first..<first + UInt64.random(in: 1...6, using: &rng)
                if Bool.random(using: &rng) {
                    task.markDone(range, in: .file(root: F.root, inode: inode))
                    done[inode, default: []].formUnion(range)
                } else {
                    task.markUndone(range, in: .file(root: F.root, inode: inode))
                    done[inode, default: []].subtract(range)
                }
            case 1:
                // Drain with small fetches; the union must equal the model minus done pages.
                var fetched: [Page: CacheEventKinds] = [:]
                while true {
                    let items = task.fetch(max: Int.random(in: 1...4, using: &rng))
                    if items.isEmpty { break }
                    for item in items {
                        for page in item.pages {
                            let key = Page(inode: item.inode, page: page)
                            #expect(fetched[key] == nil, "page delivered twice (seed \(seed), step \(step))")
                            fetched[key] = item.kinds
                        }
                    }
                }
                let expected = pending.filter { !(done[$0.key.inode]?.contains($0.key.page) ?? false) }
                #expect(fetched == expected, "seed \(seed), step \(step)")
                pending = [:]
            default:
                let kind = CacheEvent.Kind.allCases.randomElement(using: &rng)!
                let inode = UInt64.random(in: 1...3, using: &rng)
                let first = UInt64.random(in: 0..<40, using: &rng)
                let count = UInt64.random(in: 1...8, using: &rng)
                hub.ingest([F.event(kind, page: first, count: count, inode: inode)])
                for page in first..<first + count where !(done[inode]?.contains(page) ?? false) {
                    let key = Page(inode: inode, page: page)
                    let next = model.apply(kind, to: pending[key] ?? [])
                    pending[key] = next.isEmpty ? nil : next
                }
            }
            #expect(task.statistics.pendingPages == UInt64(pending.count), "seed \(seed), step \(step)")
        }
    }
}

import DuetTestSupport
import Testing

@testable import DuetFS

/// The in-memory map against a naive model that keeps (generation, time) per sector.
@Suite("Ledger map: credit and void semantics")
struct LedgerMapTests {
    @Test("random credits and voids match a per-sector model", arguments: [11, 12, 13, 14] as [UInt64])
    func matchesModel(seed: UInt64) {
        var rng = SeededGenerator(seed: seed)
        let resolution: UInt64 = 10
        var map = LedgerMap(timeResolution: resolution)
        var model: [UInt64: (generation: UInt64, time: UInt64)] = [:]
        for step in 0..<1500 {
            let start = UInt64.random(in: 0..<400, using: &rng)
            let range = start..<start + UInt64.random(in: 1...24, using: &rng)
            if UInt64.random(in: 0..<4, using: &rng) == 0 {
                map.void(range)
                for sector in range { model[sector] = nil }
            } else {
                // Few generations so neighbours often share one, and times that drift so some merge.
                let generation = UInt64.random(in: 1...3, using: &rng)
                let time = UInt64(step / 20) * 7
                map.credit(range, generation: generation, time: time)
                for sector in range { model[sector] = (generation, time) }
            }
            var seen = Set<UInt64>()
            var previousEnd: UInt64 = 0
            for entry in map.entries {
                #expect(entry.start >= previousEnd, "entries sorted and disjoint")
                previousEnd = entry.end
                if let bitmap = entry.bitmap {
                    #expect(bitmap[0] && bitmap[bitmap.count - 1] && !bitmap.isAllSet, "bitmap normalized")
                    #expect(UInt64(bitmap.count) == entry.end - entry.start)
                }
                for run in entry.runs {
                    for sector in run {
                        seen.insert(sector)
                        guard let truth = model[sector] else {
                            Issue.record("sector \(sector) credited but voided (seed \(seed), step \(step))")
                            continue
                        }
                        #expect(entry.generation == truth.generation)
                        // An entry keeps the oldest time of what it merged: never newer than the truth,
                        // and at most one resolution older, however merges chain.
                        #expect(entry.time <= truth.time && truth.time - entry.time <= resolution)
                    }
                }
            }
            #expect(seen == Set(model.keys), "seed \(seed) step \(step)")
            #expect(map.creditedSectors == UInt64(model.count))
        }
    }

    @Test("every other sector of one extent becomes one bitmap entry; a full extent one plain entry")
    func shapes() {
        var map = LedgerMap(timeResolution: 3600)
        for sector in stride(from: UInt64(0), to: 512, by: 2) { map.credit(sector..<sector + 1, generation: 9, time: 100) }
        #expect(map.entries.count == 1)
        #expect(map.entries.first!.bitmap != nil)
        for sector in stride(from: UInt64(1), to: 511, by: 2) { map.credit(sector..<sector + 1, generation: 9, time: 200) }
        #expect(map.entries.count == 1)
        #expect(map.entries.first!.bitmap == nil, "filling the holes turns it back into a plain entry")
        #expect(map.entries.first!.time == 100, "the older time is kept")
    }

    @Test("credits with different generations never share an entry")
    func generationsStayApart() {
        var map = LedgerMap(timeResolution: 3600)
        map.credit(0..<10, generation: 1, time: 5)
        map.credit(10..<20, generation: 2, time: 5)
        #expect(map.entries.map(\.generation) == [1, 2])
    }

    @Test("a credit far newer than an entry splits it instead of aging the new credit")
    func newerCreditSplits() {
        var map = LedgerMap(timeResolution: 3600)
        map.credit(0..<100, generation: 1, time: 0)
        map.credit(40..<60, generation: 1, time: 86_400)
        #expect(map.entries.map(\.span) == [0..<40, 40..<60, 60..<100])
        #expect(map.entries.map(\.time) == [0, 86_400, 0])
    }

    @Test("credits from before and after the last complete pass never share an entry, even within the resolution")
    func completionBoundaryKeepsCreditsApart() {
        var map = LedgerMap(timeResolution: 3600)
        map.credit(0..<100, generation: 1, time: 1000)
        map.completionBoundary = 1001
        // A send right after the scrub credits the same extent: it must keep its own (newer) time,
        // in place (inside the entry) or beside it.
        map.credit(40..<60, generation: 1, time: 1001)
        map.credit(100..<120, generation: 1, time: 1002)
        #expect(map.entries.map(\.span) == [0..<40, 40..<60, 60..<100, 100..<120])
        #expect(map.entries.map(\.time) == [1000, 1001, 1000, 1002])
        map.credit(60..<100, generation: 1, time: 1003)
        #expect(map.entries.map(\.span) == [0..<40, 40..<120], "after the boundary they merge as before")
        #expect(map.entries.map(\.time) == [1000, 1001])
    }
}

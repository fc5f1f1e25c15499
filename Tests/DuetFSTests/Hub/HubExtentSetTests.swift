import DuetTestSupport
import Testing

@testable import DuetFS

/// ExtentSet, the compact RangeSet under every done-set, checked against a plain `Set<UInt64>`.
@Suite("ExtentSet (RangeSet of UInt64)")
struct HubExtentSetTests {
    /// The set's invariants: sorted, non-empty, non-touching ranges and an exact count.
    private func checkInvariants(_ set: ExtentSet) {
        var total: UInt64 = 0
        for (index, range) in set.ranges.enumerated() {
            #expect(!range.isEmpty)
            if index > 0 { #expect(set.ranges[index - 1].upperBound < range.lowerBound, "ranges touch or overlap: \(set)") }
            total += range.upperBound - range.lowerBound
        }
        #expect(total == set.count)
    }

    private func values(_ set: ExtentSet) -> Set<UInt64> {
        Set(set.ranges.flatMap { Array($0) })
    }

    private func randomRange(_ rng: inout SeededGenerator, universe: UInt64) -> Range<UInt64> {
        let a = UInt64.random(in: 0...universe, using: &rng)
        let length = UInt64.random(in: 0...12, using: &rng)
        return a..<Swift.min(a + length, universe)
    }

    @Test("random inserts and removes match a naive set", arguments: [1, 2, 3, 42, 2026] as [UInt64])
    func matchesNaiveModel(seed: UInt64) {
        var rng = SeededGenerator(seed: seed)
        var set = ExtentSet()
        var model = Set<UInt64>()
        let universe: UInt64 = 160
        for _ in 0..<600 {
            let range = randomRange(&rng, universe: universe)
            if Bool.random(using: &rng) {
                set.insert(range)
                model.formUnion(range)
            } else {
                set.remove(range)
                model.subtract(range)
            }
            checkInvariants(set)
            #expect(values(set) == model, "seed \(seed)")
            let probe = randomRange(&rng, universe: universe)
            #expect(set.containsAll(probe) == probe.allSatisfy(model.contains))
            #expect(set.intersects(probe) == probe.contains(where: model.contains))
            #expect(Set(set.intersection(probe).flatMap { Array($0) }) == Set(probe).intersection(model))
            #expect(Set(set.gaps(in: probe).flatMap { Array($0) }) == Set(probe).subtracting(model))
            #expect(set.count(in: probe) == UInt64(Set(probe).intersection(model).count))
            let value = UInt64.random(in: 0..<universe, using: &rng)
            #expect(set.contains(value) == model.contains(value))
        }
    }

    @Test("set algebra matches a naive set", arguments: [7, 8, 9] as [UInt64])
    func setAlgebra(seed: UInt64) {
        var rng = SeededGenerator(seed: seed)
        for _ in 0..<100 {
            var a = ExtentSet(), b = ExtentSet()
            var modelA = Set<UInt64>(), modelB = Set<UInt64>()
            for _ in 0..<8 {
                let r = randomRange(&rng, universe: 100)
                a.insert(r); modelA.formUnion(r)
                let s = randomRange(&rng, universe: 100)
                b.insert(s); modelB.formUnion(s)
            }
            let difference = a.subtracting(b), union = a.union(b), intersection = a.intersection(b)
            for result in [difference, union, intersection] { checkInvariants(result) }
            #expect(values(difference) == modelA.subtracting(modelB))
            #expect(values(union) == modelA.union(modelB))
            #expect(values(intersection) == modelA.intersection(modelB))
        }
    }

    @Test("adjacent ranges coalesce, and equal sets compare equal whatever the order of edits")
    func coalescing() {
        var set = ExtentSet()
        set.insert(10..<20)
        set.insert(30..<40)
        set.insert(20..<30)
        #expect(set.ranges == [10..<40])
        #expect(set.count == 30)
        #expect(set == ExtentSet([30..<40, 10..<25, 25..<30]))
        set.remove(15..<16)
        #expect(set.ranges == [10..<15, 16..<40])
        #expect(set.rangeCount == 2)
        #expect(set.span == 10..<40)
    }

    @Test("ranges at the top of the UInt64 space")
    func extremes() {
        var set = ExtentSet()
        set.insert(UInt64.max - 10..<UInt64.max)
        set.insert(0..<1)
        #expect(set.contains(UInt64.max - 1))
        #expect(!set.contains(UInt64.max))
        #expect(set.count == 11)
        set.remove(0..<UInt64.max)
        #expect(set.isEmpty && set.count == 0)
    }

    @Test("200,000 single-value inserts in order stay one range")
    func sequentialInsertsStayCompact() {
        var set = ExtentSet()
        for value in 0..<UInt64(200_000) { set.insert(value) }
        #expect(set.ranges == [0..<200_000])
    }
}

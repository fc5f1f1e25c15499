import DuetTestSupport
import Testing

@testable import DuetFS

/// The chunked array under the ledger's entries, checked against a plain array.
@Suite("Ledger chunked array")
struct LedgerChunkedArrayTests {
    @Test("random replacements match an array, with chunks small enough to split often", arguments: [41, 42, 43] as [UInt64])
    func matchesArray(seed: UInt64) {
        var rng = SeededGenerator(seed: seed)
        var chunked = ChunkedArray<Int>(chunkCapacity: 3)
        var model: [Int] = []
        var next = 0
        for step in 0..<3000 {
            let lower = Int.random(in: 0...model.count, using: &rng)
            let upper = Int.random(in: lower...Swift.min(model.count, lower + Int.random(in: 0...8, using: &rng)), using: &rng)
            let insertCount = model.count > 300 ? 0 : Int.random(in: 0...(step % 3 == 0 ? 12 : 3), using: &rng)
            let inserted = Array(next..<next + insertCount)
            next += insertCount
            let from = chunked.index(chunked.startIndex, offsetBy: lower)
            let to = chunked.index(from, offsetBy: upper - lower)
            chunked.replaceSubrange(from..<to, with: inserted)
            model.replaceSubrange(lower..<upper, with: inserted)
            #expect(Array(chunked) == model, "seed \(seed) step \(step)")
            #expect(chunked.count == model.count)
            #expect(chunked.chunks.allSatisfy { !$0.isEmpty && $0.count <= 6 })
            #expect(chunked.distance(from: chunked.startIndex, to: chunked.endIndex) == model.count)
        }
    }

    @Test("partition point finds the first element past a threshold")
    func partitionPoint() {
        var chunked = ChunkedArray<Int>(chunkCapacity: 4)
        chunked.append(contentsOf: stride(from: 0, to: 200, by: 2))
        for threshold in -1...201 {
            let index = chunked.partitionPoint { $0 >= threshold }
            let expected = Swift.max(0, Swift.min(100, (threshold + 1) / 2))
            #expect(chunked.distance(from: chunked.startIndex, to: index) == expected, "threshold \(threshold)")
        }
        #expect(ChunkedArray<Int>().partitionPoint { $0 > 0 } == ChunkedArray<Int>().endIndex)
    }
}

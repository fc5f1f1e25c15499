import DuetFS
import Testing

@testable import DuetScrub

@Suite struct ReadCoalescerTests {
    func piece(_ physical: UInt64, _ length: UInt64, kind: ScrubPiece.Kind = .data, singleCopy: Bool = true, generation: UInt64 = 7)
        -> ScrubPiece
    {
        ScrubPiece(
            kind: kind, logical: physical + (1 << 30), physical: physical, length: length, mirror: 1,
            generation: generation, level: 0, singleCopy: singleCopy)
    }

    @Test("close pieces share a read, far ones do not, no read exceeds the maximum")
    func coalesces() {
        let coalescer = ReadCoalescer(maximumRead: 1 << 20, maximumGap: 64 << 10)
        let requests = coalescer.requests(
            deviceID: 1,
            pieces: [
                piece(0, 16384, kind: .treeBlock), piece(16384 + 65536, 4096), piece(200_000 * 4096, 8192),
                piece(200_000 * 4096 + 8192, 3 << 20)
            ])
        // The 3 MiB extent is split into 1 MiB parts, none of which fits beside the 8 KiB piece.
        let far: UInt64 = 200_000 * 4096
        let mib: UInt64 = 1 << 20
        let expected: [UInt64] = [0, far, far + 8192, far + 8192 + mib, far + 8192 + 2 * mib]
        #expect(requests.map(\.physical) == expected)
        #expect(requests[0].length == 16384 + 65536 + 4096)
        #expect(requests[0].pieces.count == 2)
        #expect(requests.allSatisfy { $0.length <= 1 << 20 })
        let covered = requests.flatMap(\.pieces).reduce(UInt64(0)) { $0 + $1.length }
        #expect(covered == 16384 + 4096 + 8192 + (3 << 20))
    }

    @Test("credited sectors are cut out of single-copy data only, at the same generation")
    func skipsCredited() {
        let pieces = [
            piece(0, 64 << 10), piece(1 << 20, 64 << 10, singleCopy: false), piece(2 << 20, 16384, kind: .treeBlock, singleCopy: false)
        ]
        let base: UInt64 = 1 << 30
        let (left, skipped) = PieceSkipper.subtract(pieces, sectorSize: 4096) { range, generation in
            guard generation == 7 else { return [] }
            // Credit covers [8K, 20K + 100) of the first piece: whole sectors 8K..<20K only.
            return [(base + 8192)..<(base + 20480 + 100), (base + (1 << 20))..<(base + (1 << 20) + 4096)].filter { $0.overlaps(range) }
        }
        #expect(skipped == 12288)
        #expect(left.map(\.physical) == [0, 20480, 1 << 20, 2 << 20])
        #expect(left.map(\.length) == [8192, (64 << 10) - 20480, 64 << 10, 16384])
        let (unchanged, none) = PieceSkipper.subtract(
            pieces.map {
                var p = $0; p.generation = 8; return p
            }, sectorSize: 4096
        ) { _, generation in
            generation == 7 ? [base..<(base + (64 << 10))] : []
        }
        #expect(none == 0)
        #expect(unchanged.count == 3)
    }
}

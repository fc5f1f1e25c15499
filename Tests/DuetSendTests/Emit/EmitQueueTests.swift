import DuetTestSupport
import Testing

@testable import DuetSend

/// The data section's order (`EmitQueue`) without any file system: cached first, then other
/// caches, then disk in address order, and pieces that become cached jump ahead.
@Suite struct EmitQueueTests {
    static func piece(
        _ file: UInt32, inode: UInt64, at offset: UInt64, length: UInt64 = 4096,
        _ source: DataPiece.Source, logical: UInt64? = nil
    ) -> DataPiece {
        let backing: ExtentBacking = source == .zeros ? .hole : .plain(logical: logical ?? 0)
        return DataPiece(file: file, inode: inode, range: offset..<(offset + length), backing: backing, source: source)
    }

    /// (inode, offset) of each piece, for readable comparisons.
    static func keys(_ pieces: some Sequence<DataPiece>) -> [[UInt64]] {
        pieces.map { [$0.inode, $0.range.lowerBound] }
    }

    static func drain(_ queue: inout EmitQueue) -> [DataPiece] {
        var sent: [DataPiece] = []
        while queue.hasNext { sent.append(queue.next().piece) }
        return sent
    }

    @Test func phasesInOrderEachSortedByItsRule() {
        let pieces = [
            Self.piece(0, inode: 300, at: 0, .disk, logical: 9 << 20),
            Self.piece(1, inode: 260, at: 8192, .ownCache, logical: 1 << 20),
            Self.piece(2, inode: 280, at: 0, .otherCache, logical: 5 << 20),
            Self.piece(1, inode: 260, at: 0, .zeros),
            Self.piece(3, inode: 257, at: 4096, .ownCache, logical: 2 << 20),
            Self.piece(4, inode: 270, at: 0, .disk, logical: 3 << 20),
            Self.piece(5, inode: 258, at: 0, .otherCache, logical: 7 << 20)
        ]
        var queue = EmitQueue(pieces)
        #expect(Self.keys(queue.cached) == [[257, 4096], [260, 0], [260, 8192]], "zeros and own cache by inode and offset")
        #expect(Self.keys(queue.otherCache) == [[280, 0], [258, 0]], "other caches in plan order")
        queue.startDisk()
        #expect(Self.keys(Self.drain(&queue)) == [[270, 0], [300, 0]], "disk by address, not by inode")
    }

    @Test func demotedPiecesJoinTheDiskPhaseInAddressOrder() {
        var queue = EmitQueue([
            Self.piece(0, inode: 257, at: 0, .disk, logical: 4 << 20),
            Self.piece(1, inode: 258, at: 0, .ownCache, logical: 8 << 20),
            Self.piece(2, inode: 259, at: 0, .otherCache, logical: 1 << 20)
        ])
        queue.demote(queue.cached[0].onDisk())
        queue.demote(queue.otherCache[0].onDisk())
        queue.startDisk()
        let sent = Self.drain(&queue)
        #expect(Self.keys(sent) == [[259, 0], [257, 0], [258, 0]])
        #expect(sent.allSatisfy { $0.source == .disk })
    }

    @Test func piecesThatBecomeCachedJumpAheadOfTheUnreadRest() {
        var queue = EmitQueue((0..<6).map { Self.piece(UInt32($0), inode: 257 + UInt64($0), at: 0, .disk, logical: UInt64($0) << 20) })
        queue.startDisk()
        // Two looked at (one found cached), one sent.
        queue.lookedAt(cached: false)
        queue.lookedAt(cached: true)
        #expect(queue.next().piece.inode == 257)
        #expect(queue.advised == 2)
        // Inodes 261 and 259 became cached: they move to `advised`, in the order they were found;
        // what was already looked at (258) is not re-sorted, and the rest keeps disk order.
        let moved = queue.moveAhead(from: queue.advised) { piece in
            [259, 261].contains(piece.inode) ? ([piece], []) : ([], [piece])
        }
        #expect(moved == 2)
        let (next, found) = queue.next()
        #expect(next.inode == 258 && found, "a piece found cached when it was looked at says so")
        #expect(Self.keys(Self.drain(&queue)) == [[259, 0], [261, 0], [260, 0], [262, 0]])
    }

    @Test func movingAheadSplitsAPieceAndForgetsWhatWasFoundForTheRestSorted() {
        var queue = EmitQueue([
            Self.piece(0, inode: 257, at: 0, length: 3 * 4096, .disk, logical: 1 << 20),
            Self.piece(1, inode: 258, at: 0, .disk, logical: 2 << 20)
        ])
        queue.startDisk()
        let moved = queue.moveAhead(from: 0) { piece in
            guard piece.inode == 257 else { return ([], [piece]) }
            return ([piece.cut(to: 4096..<8192)], [piece.cut(to: 0..<4096), piece.cut(to: 8192..<12288)])
        }
        #expect(moved == 1)
        let sent = Self.drain(&queue)
        #expect(Self.keys(sent) == [[257, 4096], [257, 0], [257, 8192], [258, 0]])
        #expect(sent[0].backing == .plain(logical: (1 << 20) + 4096), "a cut piece's disk address moves with it")
    }

    /// The in-place reorder against the obvious one (all parts ahead, in order, then every
    /// piece or its remaining parts), over random queues, cursors and splits.
    @Test(arguments: 0..<200)
    func movingAheadInPlaceMatchesTheObviousReorder(seed: UInt64) {
        var random = SeededGenerator(seed: seed)
        let count = Int(random.next() % 40) + 1
        let pieces = (0..<count).map {
            Self.piece(UInt32($0), inode: 300 + UInt64($0), at: 0, length: 4 * 4096, .disk, logical: UInt64($0) << 20)
        }
        var queue = EmitQueue(pieces)
        queue.startDisk()
        let sentFirst = Int(random.next() % UInt64(count + 1))
        for _ in 0..<sentFirst { _ = queue.next() }
        let from = queue.index + Int(random.next() % UInt64(count - queue.index + 1))
        // Per inode: nil (unchanged), or the pages (of 4) that are cached now.
        var cachedPages: [UInt64: [Bool]] = [:]
        for piece in pieces where random.next() % 3 == 0 {
            cachedPages[piece.inode] = (0..<4).map { _ in random.next() % 2 == 0 }
        }
        func split(_ piece: DataPiece) -> (ahead: [DataPiece], behind: [DataPiece])? {
            guard let pages = cachedPages[piece.inode], pages.contains(true) else { return nil }
            var ahead: [DataPiece] = []
            var behind: [DataPiece] = []
            for (page, cached) in pages.enumerated() {
                let part = piece.cut(to: UInt64(page) * 4096..<UInt64(page + 1) * 4096)
                if cached { ahead.append(part) } else { behind.append(part) }
            }
            return (ahead, behind)
        }
        var expected = Array(pieces[..<from])
        var expectedAhead: [DataPiece] = []
        var expectedRest: [DataPiece] = []
        for piece in pieces[from...] {
            if let parts = split(piece) {
                expectedAhead += parts.ahead
                expectedRest += parts.behind
            } else {
                expectedRest.append(piece)
            }
        }
        expected += expectedAhead + expectedRest
        let moved = queue.moveAhead(from: from, split)
        #expect(moved == expectedAhead.count)
        #expect(Self.keys(queue.disk) == Self.keys(expected), "seed \(seed)")
        #expect(queue.disk.map(\.backing) == expected.map(\.backing))
    }

    @Test func nothingCachedMovesNothing() {
        var queue = EmitQueue([
            Self.piece(0, inode: 258, at: 0, .disk, logical: 2 << 20),
            Self.piece(1, inode: 257, at: 0, .disk, logical: 1 << 20)
        ])
        queue.startDisk()
        queue.lookedAt(cached: true)
        #expect(queue.moveAhead(from: 1) { ([], [$0]) } == 0)
        #expect(queue.advised == 1, "what was looked at stays looked at")
        let first = queue.next()
        #expect(first.piece.inode == 257 && first.foundCached)
        #expect(queue.remainingBytes == 4096)
        #expect(Self.keys(queue.inFlight) == [[257, 0]])
    }
}

/// The size a million-file plan pays per piece (issue 14: 64 MiB + 200 bytes per data extent).
@Suite struct DataPieceLayoutTests {
    @Test func aPieceTakesAtMost56Bytes() {
        #expect(MemoryLayout<DataPiece>.stride <= 56, "DataPiece grew to \(MemoryLayout<DataPiece>.stride) bytes")
    }
}

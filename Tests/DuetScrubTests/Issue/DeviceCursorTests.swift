import Foundation
import Testing

@testable import DuetScrub

@Suite struct DeviceCursorTests {
    private func data(_ physical: UInt64, _ length: UInt64) -> ScrubPiece {
        ScrubPiece(
            kind: .data, logical: physical + (1 << 30), physical: physical, length: length, mirror: 1, generation: 7, level: 0,
            singleCopy: true)
    }

    private func tree(_ physical: UInt64) -> ScrubPiece {
        ScrubPiece(
            kind: .treeBlock, logical: physical + (1 << 30), physical: physical, length: 16384, mirror: 1, generation: 7, level: 0,
            singleCopy: false)
    }

    private func counters(data: UInt64) -> ScrubCounters {
        var counters = ScrubCounters()
        counters.dataVerified = data
        return counters
    }

    @Test("a piece that straddles the cursor is cut there, not dropped (the resume hole)")
    func cutsStraddlingPiece() {
        let extent = data(1 << 20, 128 << 20)
        let after = DeviceCursor.pieces([extent], from: (1 << 20) + (4 << 20))
        #expect(after.count == 1)
        #expect(after[0].physical == 5 << 20)
        #expect(after[0].logical == extent.logical + (4 << 20))
        #expect(after[0].length == 124 << 20)
        #expect(DeviceCursor.plannedBytes([extent], from: 5 << 20) == 124 << 20)
    }

    @Test("pieces wholly below the cursor go, pieces after it stay whole; tree blocks are never cut")
    func keepsOthers() {
        let pieces = [data(0, 8192), tree(16384), data(65536, 4096), tree(131072)]
        let after = DeviceCursor.pieces(pieces, from: 20480)
        #expect(after.map(\.physical) == [16384, 65536, 131072])
        #expect(after[0].length == 16384, "a tree block straddling the cursor is read whole")
        #expect(DeviceCursor.plannedBytes(pieces, from: 20480) == 16384 + 4096 + 16384)
        #expect(DeviceCursor.pieces(pieces, from: 0) == pieces)
        #expect(DeviceCursor.plannedBytes(pieces, from: 0) == 8192 + 16384 + 4096 + 16384)
        #expect(DeviceCursor.pieces(pieces, from: 1 << 30).isEmpty)
    }

    @Test("the planned bytes from any cursor equal the bytes of the pieces kept (random plans)")
    func plannedMatchesKept() {
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<200 {
            var pieces: [ScrubPiece] = []
            var position: UInt64 = 1 << 20
            for _ in 0..<Int.random(in: 1...30, using: &generator) {
                position += UInt64.random(in: 0...64, using: &generator) * 4096
                let piece =
                    Bool.random(using: &generator) ? tree(position) : data(position, UInt64.random(in: 1...32768, using: &generator) * 4096)
                pieces.append(piece)
                position += piece.length
            }
            let cursor = (1 << 20) + UInt64.random(in: 0...(position - (1 << 20)) / 4096, using: &generator) * 4096
            let kept = DeviceCursor.pieces(pieces, from: cursor)
            #expect(kept.reduce(0) { $0 + $1.length } == DeviceCursor.plannedBytes(pieces, from: cursor))
            #expect(kept.allSatisfy { $0.physical + $0.length > cursor })
            #expect(kept.allSatisfy { $0.kind == .treeBlock || $0.physical >= cursor })
        }
    }

    @Test("reads finishing out of order are committed only once the cursor passes them")
    func commitsInOrder() {
        var cursor = DeviceCursor()
        cursor.issued(100, end: 200)
        cursor.issued(200, end: 300)
        cursor.issued(300, end: 400)
        #expect(cursor.position == 0)
        // The second read finishes first: held, since the first is still outstanding.
        #expect(cursor.finished(readAt: 200, end: 300, counters: counters(data: 100)) == ScrubCounters())
        #expect(cursor.position == 100)
        #expect(cursor.heldCounters.dataVerified == 100)
        // The first finishes: both are below the cursor now, which stops at the third read.
        #expect(cursor.finished(readAt: 100, end: 200, counters: counters(data: 100)).dataVerified == 200)
        #expect(cursor.position == 300)
        #expect(cursor.finished(readAt: 300, end: 400, counters: counters(data: 100)).dataVerified == 100)
        #expect(cursor.position == 400)
        var skipped = ScrubCounters()
        skipped.skippedVerified = 50
        #expect(cursor.passed(450, counters: skipped).skippedVerified == 50)
        #expect(cursor.position == 450)
        #expect(cursor.finishDevice(cancelled: false) == ScrubCounters())
        #expect(cursor.isDone)
    }

    @Test("a cancelled device keeps its cursor at the oldest unfinished read and hands back what is held")
    func cancelledKeepsCursor() {
        var cursor = DeviceCursor(resumingAt: 1000)
        cursor.issued(1000, end: 2000)
        cursor.issued(2000, end: 3000)
        _ = cursor.finished(readAt: 2000, end: 3000, counters: counters(data: 1000))
        #expect(cursor.position == 1000)
        // Cancelled with the first read unfinished: the held work is not committed (the resume
        // reads it again), and the cursor stays below it.
        #expect(cursor.finishDevice(cancelled: true) == ScrubCounters())
        #expect(cursor.position == 1000)
        #expect(!cursor.isDone)
        #expect(cursor.heldCounters.dataVerified == 1000)
    }

    @Test("superblocks done: the cursor moves to 1 only when nothing is outstanding")
    func advance() {
        var cursor = DeviceCursor()
        cursor.advance(to: 1)
        #expect(cursor.position == 1)
        cursor.issued(4096, end: 8192)
        cursor.advance(to: 2)
        #expect(cursor.position == 1, "a read is outstanding")
        var resumed = DeviceCursor(resumingAt: 5000)
        resumed.advance(to: 1)
        #expect(resumed.position == 5000, "never moves back")
    }
}

/// One device's position in a scrub, and the rule that keeps a resume from losing or
/// double-counting work.
///
/// Reads are issued in physical order but complete (and are verified) out of order. The cursor
/// is the start of the oldest read still outstanding, or the end of everything issued when
/// nothing is: every planned byte below it has been read and verified, or skipped. Work finished
/// beyond the cursor is held back and committed only when the cursor passes its end, so a
/// checkpoint's counters describe exactly the bytes below its cursor.
struct DeviceCursor: Sendable, Equatable {
    /// Everything planned below this physical offset is done.
    private(set) var position: UInt64
    /// The end of the last read issued or device extent passed.
    private(set) var issuedEnd: UInt64
    /// Start offsets of reads issued and not yet finished.
    private var outstanding: [UInt64] = []
    /// Work finished beyond the cursor: committed once the cursor reaches `end`.
    private var held: [Held] = []

    private struct Held: Sendable, Equatable {
        var end: UInt64
        var counters: ScrubCounters
    }

    /// The position after a whole device: a resume skips the device.
    static let done = UInt64.max

    init(resumingAt start: UInt64 = 0) {
        position = start
        issuedEnd = start
    }

    var isDone: Bool { position == Self.done }

    /// A read of `start ..< end` was issued.
    mutating func issued(_ start: UInt64, end: UInt64) {
        outstanding.append(start)
        issuedEnd = max(issuedEnd, end)
    }

    /// The read that started at `start` finished with `counters`; returns what may now be committed.
    mutating func finished(readAt start: UInt64, end: UInt64, counters: ScrubCounters) -> ScrubCounters {
        if let index = outstanding.firstIndex(of: start) { outstanding.remove(at: index) }
        return hold(counters, until: end)
    }

    /// Everything up to `end` (a device extent's end) was issued or skipped; `counters` (the bytes
    /// skipped after its last read) are committed when the cursor passes `end`, as reads are.
    mutating func passed(_ end: UInt64, counters: ScrubCounters) -> ScrubCounters {
        issuedEnd = max(issuedEnd, end)
        return hold(counters, until: end)
    }

    /// Work below `offset` that this process does itself and that belongs to no read (the
    /// superblock copies): moves the cursor there once nothing is outstanding, so a resume does not
    /// repeat it.
    mutating func advance(to offset: UInt64) {
        guard outstanding.isEmpty, held.isEmpty, position < offset else { return }
        position = offset
        issuedEnd = max(issuedEnd, offset)
    }

    /// The device's work ended. Not cancelled: every read has finished, so whatever is still held
    /// is committed and the cursor moves to `done`. Cancelled: the held work stays uncommitted and
    /// the cursor where it is, since the resume does that work again (committing it too would
    /// count it twice).
    mutating func finishDevice(cancelled: Bool) -> ScrubCounters {
        guard !cancelled else { return ScrubCounters() }
        var total = ScrubCounters()
        for piece in held { total.add(piece.counters) }
        held = []
        position = Self.done
        return total
    }

    /// Everything finished, held back or not, for progress displays.
    var heldCounters: ScrubCounters {
        var total = ScrubCounters()
        for piece in held { total.add(piece.counters) }
        return total
    }

    private mutating func hold(_ counters: ScrubCounters, until end: UInt64) -> ScrubCounters {
        held.append(Held(end: end, counters: counters))
        position = max(position, outstanding.min() ?? issuedEnd)
        var committed = ScrubCounters()
        for piece in held where piece.end <= position { committed.add(piece.counters) }
        held.removeAll { $0.end <= position }
        return committed
    }

    // MARK: - Resuming

    /// The parts of `pieces` (in physical order) at or after `cursor`: a piece that straddles the
    /// cursor is cut there, never dropped. Data is cut at the cursor (always a read boundary, so
    /// sector aligned); a tree block is read whole, so one that straddles it (no read ever starts
    /// inside one) is kept whole.
    static func pieces(_ pieces: [ScrubPiece], from cursor: UInt64) -> [ScrubPiece] {
        var out: [ScrubPiece] = []
        out.reserveCapacity(pieces.count)
        for piece in pieces {
            let end = piece.physical + piece.length
            if end <= cursor { continue }
            if piece.physical >= cursor || piece.kind != .data {
                out.append(piece)
                continue
            }
            let cut = cursor - piece.physical
            out.append(piece.slice((piece.logical + cut)..<(piece.logical + piece.length)))
        }
        return out
    }

    /// Bytes of `pieces` at or after `cursor`: what a run starting there must cover, counted
    /// independently of the cutting above so the end-of-run check can catch a fault in either.
    static func plannedBytes(_ pieces: [ScrubPiece], from cursor: UInt64) -> UInt64 {
        pieces.reduce(0) { total, piece in
            let end = piece.physical + piece.length
            guard end > cursor else { return total }
            return total + (piece.kind == .data ? end - max(piece.physical, cursor) : piece.length)
        }
    }
}

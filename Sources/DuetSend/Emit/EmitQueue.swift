/// The order in which the data section's pieces go out, without any I/O: what reads least
/// from disk (DESIGN §3).
///
/// 1. `cached`: zeros and the snapshot's own cached pages, by inode and offset.
/// 2. `otherCache`: pieces another inode has cached, in plan order.
/// 3. `disk`: the rest, with whatever the first two phases hand down (`demote`), sorted by
///    disk address once `startDisk()` is called. In this phase the queue keeps two cursors:
///    `index`, the next piece to send, and `advised`, how far pieces have been looked at
///    (found cached, or handed to readahead). Pieces that become cached move to `advised`
///    (`moveAhead`), ahead of the rest, which keeps its disk order.
///
/// The emitter decides what is cached and does the reads; this type only keeps the order, so
/// the policy is testable without a file system.
public struct EmitQueue: Sendable {
    public private(set) var cached: [DataPiece]
    public private(set) var otherCache: [DataPiece]
    public private(set) var disk: [DataPiece]
    /// The next disk-phase piece to send.
    public private(set) var index = 0
    /// `disk[index..<advised]` have been looked at.
    public private(set) var advised = 0
    /// Per disk piece: found cached when it was looked at.
    private var foundCached: [Bool] = []
    public private(set) var diskStarted = false

    public init(_ pieces: consuming [DataPiece]) {
        self.init(PlannedPieces(pieces))
    }

    public init(_ planned: consuming PlannedPieces) {
        var planned = planned
        // Taken one phase at a time, not copied: a shared buffer would be copied whole by the sort.
        var cachedPieces = planned.take(.cached)
        // A full send plans in inode order already: sorting anyway costs a buffer of half the
        // pieces (14 MiB at a million files), so look first.
        let byInode: (DataPiece, DataPiece) -> Bool = { ($0.inode, $0.range.lowerBound) < ($1.inode, $1.range.lowerBound) }
        if !cachedPieces.isInOrder(by: byInode) { cachedPieces.sort(by: byInode) }
        cached = cachedPieces
        otherCache = planned.take(.otherCache)
        disk = planned.take(.disk)
    }

    /// A piece of the first two phases that has to come from disk after all (evicted, or its
    /// other-cache bytes rejected) joins the disk phase.
    public mutating func demote(_ piece: DataPiece) {
        precondition(!diskStarted, "pieces join the disk phase before it starts")
        disk.append(piece)
    }

    /// Sorts the disk phase by disk address; the first two phases are done.
    public mutating func startDisk() {
        // Gone before the sort, whose buffer is half the disk phase: at a million files the
        // first phase alone is 28 MiB.
        cached = []
        otherCache = []
        let byAddress: (DataPiece, DataPiece) -> Bool = { $0.backing.sortKey < $1.backing.sortKey }
        if !disk.isInOrder(by: byAddress) { disk.sort(by: byAddress) }
        foundCached = [Bool](repeating: false, count: disk.count)
        diskStarted = true
    }

    public var hasNext: Bool { index < disk.count }

    /// The next piece to look at ahead of the reads, if any.
    public var nextToLookAt: DataPiece? { advised < disk.count ? disk[advised] : nil }

    /// The piece `nextToLookAt` returned has been looked at; `cached` if it was found cached.
    public mutating func lookedAt(cached: Bool) {
        foundCached[advised] = cached
        advised += 1
    }

    /// The pieces being read or handed to readahead: the last one sent and the ones looked at.
    public var inFlight: ArraySlice<DataPiece> { disk[max(index - 1, 0)..<advised] }

    /// Bytes of the pieces not yet sent.
    public var remainingBytes: UInt64 { disk[index...].reduce(0) { $0 + UInt64($1.range.count) } }

    /// Takes the next piece, and whether it was found cached when it was looked at.
    public mutating func next() -> (piece: DataPiece, foundCached: Bool) {
        defer { index += 1 }
        if advised <= index { advised = index + 1 }
        return (disk[index], foundCached[index])
    }

    /// Re-sorts `disk[from...]` (from ≥ `index`): `split` tells for each piece which parts are
    /// cached now (moved ahead, in the order given) and which are not (kept in disk order), or
    /// nil when nothing of it is. Nothing moves if nothing is cached. What was found cached
    /// before is forgotten for the re-sorted part (it is looked at again). Returns how many
    /// pieces moved ahead.
    ///
    /// Called every few megabytes over the whole rest of the queue (a million pieces at a
    /// million files): it allocates nothing per unchanged piece and never copies the queue.
    @discardableResult
    public mutating func moveAhead(from: Int, _ split: (DataPiece) -> (ahead: [DataPiece], behind: [DataPiece])?) -> Int {
        precondition(diskStarted && from >= index && from <= disk.count)
        var ahead: [DataPiece] = []
        var replaced: [Int: [DataPiece]] = [:]
        for position in from..<disk.count {
            guard let parts = split(disk[position]), !parts.ahead.isEmpty else { continue }
            ahead += parts.ahead
            replaced[position] = parts.behind
        }
        guard !ahead.isEmpty else { return 0 }
        // In place, from the end: every replaced piece has a part ahead, so the write position
        // never passes a piece not yet moved, and the queue (the whole disk phase of a
        // million-file send) is never copied.
        let oldCount = disk.count
        let growth = ahead.count + replaced.values.reduce(0) { $0 + $1.count } - replaced.count
        if growth > 0 { disk.append(contentsOf: repeatElement(disk[oldCount - 1], count: growth)) }
        var write = disk.count
        for position in stride(from: oldCount - 1, through: from, by: -1) {
            if let behind = replaced[position] {
                for piece in behind.reversed() {
                    write -= 1
                    disk[write] = piece
                }
            } else {
                write -= 1
                disk[write] = disk[position]
            }
        }
        precondition(write == from + ahead.count, "moveAhead lost track of the queue")
        for (offset, piece) in ahead.enumerated() { disk[from + offset] = piece }
        foundCached.replaceSubrange(from..., with: repeatElement(false, count: disk.count - from))
        advised = min(advised, from)
        return ahead.count
    }
}

/// A plan's pieces, already apart by the phase that sends them (`EmitQueue`): a million-file
/// plan is a million pieces. Kept in chunks while the plan grows (a growing array needs its
/// old and new buffer at once) and handed over as arrays of exactly their size.
public struct PlannedPieces: Sequence, Sendable {
    public enum Phase: Sendable {
        /// Zeros and the snapshot's own cached pages.
        case cached
        case otherCache
        case disk
    }

    private var cached = ChunkedArray<DataPiece>()
    private var otherCache = ChunkedArray<DataPiece>()
    private var disk = ChunkedArray<DataPiece>()

    public init() {}

    public init(_ pieces: some Sequence<DataPiece>) {
        for piece in pieces { append(piece) }
    }

    public mutating func append(_ piece: DataPiece) {
        switch piece.source {
        case .zeros, .ownCache: cached.append(piece)
        case .otherCache: otherCache.append(piece)
        case .disk: disk.append(piece)
        }
    }

    public static func += (pieces: inout PlannedPieces, more: [DataPiece]) {
        for piece in more { pieces.append(piece) }
    }

    public var count: Int { cached.count + otherCache.count + disk.count }

    public func makeIterator() -> FlattenSequence<[FlattenSequence<[[DataPiece]]>]>.Iterator {
        [cached.elements, otherCache.elements, disk.elements].joined().makeIterator()
    }

    /// One phase's pieces, leaving none here.
    mutating func take(_ phase: Phase) -> [DataPiece] {
        switch phase {
        case .cached: cached.drain()
        case .otherCache: otherCache.drain()
        case .disk: disk.drain()
        }
    }
}

extension Array {
    /// Whether no element is ordered before the one ahead of it.
    func isInOrder(by areInIncreasingOrder: (Element, Element) -> Bool) -> Bool {
        indices.dropFirst().allSatisfy { !areInIncreasingOrder(self[$0], self[$0 - 1]) }
    }
}

/// Groups pieces (in physical order) into large device reads (step 3), as OpenZFS's sorted
/// scrub does: pieces closer than `maximumGap` share one read, no read exceeds `maximumRead`,
/// and a piece longer than that (a big data extent) is split at sector boundaries.
public struct ReadCoalescer: Sendable {
    public var maximumRead: Int
    public var maximumGap: UInt64
    public var sectorSize: UInt64

    public init(maximumRead: Int = 4 << 20, maximumGap: UInt64 = 256 << 10, sectorSize: UInt64 = 4096) {
        precondition(maximumRead >= 64 << 10 && maximumRead % Int(sectorSize) == 0)
        self.maximumRead = maximumRead
        self.maximumGap = maximumGap
        self.sectorSize = sectorSize
    }

    public func requests(deviceID: UInt64, pieces: [ScrubPiece]) -> [ReadRequest] {
        var requests: [ReadRequest] = []
        var current: ReadRequest?
        for piece in split(pieces) {
            if var open = current {
                let end = open.physical + UInt64(open.length)
                let gap = piece.physical >= end ? piece.physical - end : 0
                let grown = piece.physical + piece.length - open.physical
                if piece.physical >= open.physical, gap <= maximumGap, grown <= UInt64(maximumRead) {
                    open.length = Int(max(UInt64(open.length), grown))
                    open.pieces.append(piece)
                    current = open
                    continue
                }
                requests.append(open)
            }
            current = ReadRequest(deviceID: deviceID, physical: piece.physical, length: Int(piece.length), pieces: [piece])
        }
        if let open = current { requests.append(open) }
        return requests
    }

    /// Data pieces longer than one read become several; tree blocks stay whole.
    private func split(_ pieces: [ScrubPiece]) -> [ScrubPiece] {
        var out: [ScrubPiece] = []
        out.reserveCapacity(pieces.count)
        let limit = UInt64(maximumRead)
        for piece in pieces {
            guard piece.kind == .data, piece.length > limit else {
                out.append(piece)
                continue
            }
            var offset: UInt64 = 0
            while offset < piece.length {
                var part = piece
                part.logical += offset
                part.physical += offset
                part.length = min(limit, piece.length - offset)
                out.append(part)
                offset += part.length
            }
        }
        return out
    }
}

/// Removes credited logical ranges from single-copy data pieces (step 2).
public enum PieceSkipper {
    /// Returns the pieces left and the bytes skipped. `credited` lists, for a logical range and
    /// the generation its extent has now, the ranges a foreground read or earlier scrub verified
    /// at that same generation (a credit for an older generation is void), sorted and disjoint.
    public static func subtract(
        _ pieces: [ScrubPiece], sectorSize: UInt64,
        credited: (Range<UInt64>, UInt64) -> [Range<UInt64>]
    ) -> (pieces: [ScrubPiece], skipped: UInt64) {
        var out: [ScrubPiece] = []
        var skipped: UInt64 = 0
        for piece in pieces {
            guard piece.singleCopy else {
                out.append(piece)
                continue
            }
            let range = piece.logical..<(piece.logical + piece.length)
            var cursor = range.lowerBound
            for credit in credited(range, piece.generation) {
                // Only whole sectors count as credited.
                let start = max(credit.lowerBound, range.lowerBound).roundedUp(to: sectorSize)
                let end = min(credit.upperBound, range.upperBound) / sectorSize * sectorSize
                guard start < end, start >= cursor else { continue }
                if start > cursor { out.append(piece.slice(cursor..<start)) }
                skipped += end - start
                cursor = end
            }
            if cursor < range.upperBound { out.append(piece.slice(cursor..<range.upperBound)) }
        }
        return (out, skipped)
    }
}

extension ScrubPiece {
    /// The part of this piece covering the logical range `part` (which must lie inside it).
    func slice(_ part: Range<UInt64>) -> ScrubPiece {
        var piece = self
        piece.physical += part.lowerBound - logical
        piece.logical = part.lowerBound
        piece.length = part.upperBound - part.lowerBound
        return piece
    }
}

extension UInt64 {
    func roundedUp(to unit: UInt64) -> UInt64 { (self + unit - 1) / unit * unit }
}

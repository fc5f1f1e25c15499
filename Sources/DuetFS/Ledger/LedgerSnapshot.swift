/// The snapshot file: the whole ledger as of one compaction, written to a temporary file,
/// fsync'd, renamed over the old one and the directory fsync'd, so it is never seen torn.
///
/// Layout (little-endian):
///
///     header, 56 bytes: magic "DUETLSNP", version u32 = 1, sector size u32, fsid [16],
///                       journal epoch u64, last complete pass u64 (0 = none), entry count u64
///     entries, each:    varint  gap in sectors since the previous entry's end
///                       varint  (length in sectors << 1) | has-bitmap
///                       zigzag  generation − previous entry's generation
///                       zigzag  time − previous entry's time
///                       bitmap  (length + 7) / 8 bytes, bit i = sector i, if has-bitmap
///     trailer:          CRC32C u32 of every byte before it
///
/// Sized for the bound in issue 3: an entry header costs 4–10 bytes (small gaps, lengths and
/// deltas dominate), a fragmented entry adds one bit per sector of its span.
struct LedgerSnapshot: Equatable {
    static let magic: [UInt8] = Array("DUETLSNP".utf8)
    static let version: UInt32 = 1
    static let headerSize = 56

    var fileSystem: FileSystemID
    var sectorSize: UInt32
    /// The journal epoch that continues this snapshot: a journal with another epoch predates it.
    var journalEpoch: UInt64
    var lastCompletePass: UInt64?
    var entries: [LedgerEntry]

    func encoded() -> [UInt8] {
        var writer = LedgerBytesWriter(capacity: Self.headerSize + entries.count * 8 + 4)
        writer.append(contentsOf: Self.magic)
        writer.append(Self.version)
        writer.append(sectorSize)
        writer.append(contentsOf: fileSystem.bytes)
        writer.append(journalEpoch)
        writer.append(lastCompletePass ?? 0)
        writer.append(UInt64(entries.count))
        var previousEnd: UInt64 = 0
        var previousGeneration: UInt64 = 0
        var previousTime: UInt64 = 0
        for entry in entries {
            writer.appendVarint(entry.start - previousEnd)
            writer.appendVarint((entry.end - entry.start) << 1 | (entry.bitmap == nil ? 0 : 1))
            writer.appendSignedVarint(Int64(bitPattern: entry.generation &- previousGeneration))
            writer.appendSignedVarint(Int64(bitPattern: entry.time &- previousTime))
            if let bitmap = entry.bitmap { writer.append(contentsOf: bitmap.littleEndianBytes) }
            previousEnd = entry.end
            previousGeneration = entry.generation
            previousTime = entry.time
        }
        writer.appendCRC32C()
        return writer.bytes
    }

    /// Decodes and checks a snapshot; the error says what is wrong when it is not one.
    static func decode(_ bytes: [UInt8]) throws(LedgerFormatProblem) -> LedgerSnapshot {
        guard bytes.count >= headerSize + 4 else { throw LedgerFormatProblem("shorter than a header (\(bytes.count) bytes)") }
        let stored = LedgerBytesReader(bytes, offset: bytes.count - 4)
        var trailer = stored
        guard trailer.readUInt32() == CRC32C.ledgerChecksum(bytes[..<(bytes.count - 4)]) else {
            throw LedgerFormatProblem("checksum mismatch")
        }
        var reader = LedgerBytesReader(Array(bytes[..<(bytes.count - 4)]))
        guard reader.readBytes(8).map(Array.init) == magic else { throw LedgerFormatProblem("not a ledger snapshot (bad magic)") }
        guard let version = reader.readUInt32(), version == Self.version else { throw LedgerFormatProblem("unsupported version") }
        guard let sectorSize = reader.readUInt32(), sectorSize.nonzeroBitCount == 1,
            let fsid = reader.readBytes(16), let epoch = reader.readUInt64(),
            let pass = reader.readUInt64(), let count = reader.readUInt64()
        else { throw LedgerFormatProblem("truncated header") }
        var entries: [LedgerEntry] = []
        entries.reserveCapacity(Int(min(count, UInt64(bytes.count))))
        var previousEnd: UInt64 = 0
        var previousGeneration: UInt64 = 0
        var previousTime: UInt64 = 0
        for index in 0..<count {
            guard let gap = reader.readVarint(), let lengthAndFlag = reader.readVarint(),
                let generationDelta = reader.readSignedVarint(), let timeDelta = reader.readSignedVarint()
            else {
                throw LedgerFormatProblem("entry \(index) truncated")
            }
            let length = lengthAndFlag >> 1
            let (start, overflow) = previousEnd.addingReportingOverflow(gap)
            guard !overflow, length > 0, start.addingReportingOverflow(length).overflow == false else {
                throw LedgerFormatProblem("entry \(index) out of range")
            }
            var entry = LedgerEntry(
                span: start..<start + length,
                generation: previousGeneration &+ UInt64(bitPattern: generationDelta),
                time: previousTime &+ UInt64(bitPattern: timeDelta))
            if lengthAndFlag & 1 == 1 {
                guard length <= LedgerEntry.maxBitmapSectors, let raw = reader.readBytes(Int((length + 7) / 8)) else {
                    throw LedgerFormatProblem("entry \(index) bitmap truncated")
                }
                let bitmap = SectorBitmap(count: Int(length), littleEndianBytes: raw)
                guard bitmap[0], bitmap[Int(length) - 1] else { throw LedgerFormatProblem("entry \(index) bitmap not trimmed") }
                entry.bitmap = bitmap
            }
            entries.append(entry)
            previousEnd = entry.end
            previousGeneration = entry.generation
            previousTime = entry.time
        }
        guard reader.remaining == 0 else { throw LedgerFormatProblem("\(reader.remaining) bytes after the last entry") }
        return LedgerSnapshot(
            fileSystem: FileSystemID(bytes: Array(fsid)), sectorSize: sectorSize,
            journalEpoch: epoch, lastCompletePass: pass == 0 ? nil : pass, entries: entries)
    }
}

/// Why a snapshot could not be read, for the error message.
struct LedgerFormatProblem: Error {
    var reason: String

    init(_ reason: String) { self.reason = reason }
}

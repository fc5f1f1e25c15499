/// The journal: every ledger edit since the last snapshot, appended as fixed-size records each
/// carrying its own CRC32C, so a crash can only leave a torn or unwritten tail, which loading
/// detects and drops.
///
/// Layout (little-endian):
///
///     header, 64 bytes:  magic "DUETLJNL", version u32 = 1, record size u32 = 40, epoch u64,
///                        fsid [16], sector size u32, 16 reserved zero bytes, CRC32C u32 of the 60 before
///     records, 40 bytes: kind u8, 3 zero bytes, start u64, length u64, generation u64, time u64,
///                        CRC32C u32 of the 36 before
///
/// A fresh journal is created whole (temporary file, fsync, rename, directory fsync), so its
/// header is never torn; only appends can be.
enum LedgerJournal {
    static let magic: [UInt8] = Array("DUETLJNL".utf8)
    static let version: UInt32 = 1
    static let headerSize = 64
    static let recordSize = 40

    struct Header: Equatable {
        var epoch: UInt64
        var fileSystem: FileSystemID
        var sectorSize: UInt32
    }

    enum RecordKind: UInt8 {
        /// `start ..< start + length` verified at `time` with extent `generation`.
        case credit = 1
        /// `start ..< start + length` written anew by btrfs: its credit is gone.
        case void = 2
        /// A pass over the whole file system (a complete scrub) completed at `time`. The raw value
        /// is on disk: journals written when this was called `scrubCompleted` read the same.
        case passCompleted = 3
    }

    struct Record: Equatable {
        var kind: RecordKind
        var start: UInt64 = 0
        var length: UInt64 = 0
        var generation: UInt64 = 0
        var time: UInt64 = 0
    }

    /// What reading a journal found.
    struct Contents {
        var header: Header?
        var records: [Record] = []
        /// Byte length of the header and every record up to the last valid one: where appends go.
        var validLength = 0
        /// Bytes after the last valid record: a torn or unwritten tail, dropped.
        var tornTailBytes = 0
        /// Invalid records followed by valid ones: damage, not a crash artefact.
        var corruptRecords = 0
    }

    static func encodeHeader(_ header: Header) -> [UInt8] {
        var writer = LedgerBytesWriter(capacity: headerSize)
        writer.append(contentsOf: magic)
        writer.append(version)
        writer.append(UInt32(recordSize))
        writer.append(header.epoch)
        writer.append(contentsOf: header.fileSystem.bytes)
        writer.append(header.sectorSize)
        writer.appendZeros(16)
        writer.appendCRC32C()
        return writer.bytes
    }

    static func encode(_ record: Record, into writer: inout LedgerBytesWriter) {
        let begin = writer.bytes.count
        writer.append(record.kind.rawValue)
        writer.appendZeros(3)
        writer.append(record.start)
        writer.append(record.length)
        writer.append(record.generation)
        writer.append(record.time)
        writer.append(CRC32C.ledgerChecksum(writer.bytes[begin...]))
    }

    static func read(_ bytes: [UInt8]) -> Contents {
        var contents = Contents()
        guard let header = decodeHeader(bytes) else {
            contents.tornTailBytes = bytes.count
            return contents
        }
        contents.header = header
        contents.validLength = headerSize
        var offset = headerSize
        var invalidSinceLastValid = 0
        while offset + recordSize <= bytes.count {
            if let record = decodeRecord(bytes[offset..<offset + recordSize]) {
                contents.records.append(record)
                contents.corruptRecords += invalidSinceLastValid
                invalidSinceLastValid = 0
                contents.validLength = offset + recordSize
            } else {
                invalidSinceLastValid += 1
            }
            offset += recordSize
        }
        contents.tornTailBytes = bytes.count - contents.validLength
        return contents
    }

    private static func decodeHeader(_ bytes: [UInt8]) -> Header? {
        guard bytes.count >= headerSize,
            CRC32C.ledgerChecksum(bytes[0..<60]) == LedgerBytesReader(bytes, offset: 60).readUInt32Value
        else { return nil }
        var reader = LedgerBytesReader(bytes)
        guard reader.readBytes(8).map(Array.init) == magic, reader.readUInt32() == version,
            reader.readUInt32() == UInt32(recordSize), let epoch = reader.readUInt64(),
            let fsid = reader.readBytes(16), let sectorSize = reader.readUInt32()
        else { return nil }
        return Header(epoch: epoch, fileSystem: FileSystemID(bytes: Array(fsid)), sectorSize: sectorSize)
    }

    private static func decodeRecord(_ bytes: ArraySlice<UInt8>) -> Record? {
        let base = bytes.startIndex
        var reader = LedgerBytesReader(Array(bytes))
        guard CRC32C.ledgerChecksum(bytes[base..<base + 36]) == LedgerBytesReader(Array(bytes), offset: 36).readUInt32Value,
            let raw = reader.readUInt8(), let kind = RecordKind(rawValue: raw), reader.skip(3),
            let start = reader.readUInt64(), let length = reader.readUInt64(),
            let generation = reader.readUInt64(), let time = reader.readUInt64()
        else { return nil }
        return Record(kind: kind, start: start, length: length, generation: generation, time: time)
    }
}

extension LedgerBytesReader {
    /// The u32 at the reader's offset, without advancing a copy the caller keeps.
    fileprivate var readUInt32Value: UInt32? {
        var copy = self
        return copy.readUInt32()
    }
}

import DuetFS

/// Verifies bytes read for a snapshot's extent against the csum tree, through `CsumLookup`.
public final class ChecksumIndex: Sendable {
    public let fileSystem: FileSystem
    public let info: FileSystemInfo
    public let checksummer: Checksummer
    public let sectorSize: UInt64

    public init(fileSystem: FileSystem, info: FileSystemInfo) {
        self.fileSystem = fileSystem
        self.info = info
        checksummer = Checksummer(info.checksumType)
        sectorSize = UInt64(info.sectorSize)
    }

    /// The stored checksums of the sectors of `range` (sector aligned), one entry per sector,
    /// nil for a sector without one (nodatasum, prealloc).
    public func checksums(of range: Range<UInt64>) throws -> [ArraySlice<UInt8>?] {
        let lookup = try CsumLookup(fileSystem: fileSystem, info: info, range: range)
        return stride(from: range.lowerBound, to: range.upperBound, by: Int(sectorSize)).map { lookup.checksum(at: $0) }
    }
    /// Whether `bytes` (sector aligned, the last sector zero-padded by the caller) are exactly
    /// the data the csum tree records at `logical`. A sector without a checksum fails: then
    /// nothing vouches for the bytes.
    public func verify(_ bytes: UnsafeRawBufferPointer, logical: UInt64) throws -> Bool {
        let sectors = try checksums(of: logical..<(logical + UInt64(bytes.count)))
        for (index, stored) in sectors.enumerated() {
            guard let stored else { return false }
            let start = index * Int(sectorSize)
            let sector = UnsafeRawBufferPointer(rebasing: bytes[start..<min(start + Int(sectorSize), bytes.count)])
            let matches = stored.withUnsafeBytes { checksummer.matches(sector, expected: $0) }
            if !matches { return false }
        }
        return true
    }
}

import DuetFS

/// The csum tree's data checksums for logical ranges, looked up with `TREE_SEARCH_V2` when a
/// range is first asked about. The same idea as DuetScrub's `CsumLookup` (tasks do not import
/// each other): an item `(EXTENT_CSUM, 128, logical)` packs one checksum per sector.
public final class ChecksumIndex: @unchecked Sendable {
    public let fileSystem: FileSystem
    public let checksummer: Checksummer
    public let sectorSize: UInt64
    private let span: UInt64

    public init(fileSystem: FileSystem, info: FileSystemInfo) {
        self.fileSystem = fileSystem
        checksummer = Checksummer(info.checksumType)
        sectorSize = UInt64(info.sectorSize)
        // The longest range one item can cover: a leaf full of checksums.
        span = UInt64(info.nodeSize) / UInt64(info.checksumType.size) * UInt64(info.sectorSize)
    }

    /// The stored checksums of the sectors of `range` (sector aligned), one entry per sector,
    /// nil for a sector without one (nodatasum, prealloc).
    public func checksums(of range: Range<UInt64>) throws -> [ArraySlice<UInt8>?] {
        let size = checksummer.type.size
        let start = range.lowerBound > span ? range.lowerBound - span : 0
        var result = [ArraySlice<UInt8>?](repeating: nil, count: Int((range.count + Int(sectorSize) - 1) / Int(sectorSize)))
        try fileSystem.search(tree: TreeID.csum, from: BtrfsKey(TreeID.extentCsum, ItemType.extentCsum, start),
                              to: BtrfsKey(TreeID.extentCsum, ItemType.extentCsum, range.upperBound - 1),
                              types: [ItemType.extentCsum]).forEach { item in
            let csums = try CsumItem(key: item.key, bytes: item.data, checksumSize: size)
            let covered = csums.range(sectorSize: sectorSize)
            guard covered.overlaps(range) else { return }
            var logical = max(covered.lowerBound, range.lowerBound)
            while logical < min(covered.upperBound, range.upperBound) {
                let sector = Int((logical - covered.lowerBound) / sectorSize)
                result[Int((logical - range.lowerBound) / sectorSize)] = csums.checksum(ofSector: sector)
                logical += sectorSize
            }
        }
        return result
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

/// The data checksums of one logical range, loaded once from the csum tree (what scrub and
/// send both verify data against).
/// Sectors without a checksum (nodatasum files, prealloc extents never written) have none.
public struct CsumLookup: Sendable {
    public let checksumSize: Int
    public let sectorSize: UInt64
    /// Items sorted by logical start; they never overlap.
    private let items: [CsumItem]

    /// The longest run one csum item can cover: a leaf of checksums.
    static func maximumItemSpan(nodeSize: UInt32, sectorSize: UInt32, checksumSize: Int) -> UInt64 {
        UInt64(nodeSize) / UInt64(checksumSize) * UInt64(sectorSize)
    }

    public init(fileSystem: FileSystem, info: FileSystemInfo, range: Range<UInt64>) throws {
        checksumSize = info.checksumType.size
        sectorSize = UInt64(info.sectorSize)
        let span = Self.maximumItemSpan(nodeSize: info.nodeSize, sectorSize: info.sectorSize, checksumSize: checksumSize)
        let start = range.lowerBound > span ? range.lowerBound - span : 0
        var items: [CsumItem] = []
        try fileSystem.search(
            tree: TreeID.csum, from: BtrfsKey(TreeID.extentCsum, ItemType.extentCsum, start),
            to: BtrfsKey(TreeID.extentCsum, ItemType.extentCsum, range.upperBound - 1),
            types: [ItemType.extentCsum]
        ).forEach { item in
            let csums = try CsumItem(key: item.key, bytes: item.data, checksumSize: info.checksumType.size)
            if csums.range(sectorSize: UInt64(info.sectorSize)).overlaps(range) { items.append(csums) }
        }
        self.items = items
    }

    /// The stored checksum of the sector at `logical`, or nil if it has none.
    public func checksum(at logical: UInt64) -> ArraySlice<UInt8>? {
        var low = 0
        var high = items.count
        while low < high {
            let mid = (low + high) / 2
            if items[mid].logical <= logical { low = mid + 1 } else { high = mid }
        }
        guard low > 0 else { return nil }
        let item = items[low - 1]
        let index = Int((logical - item.logical) / sectorSize)
        guard index < item.sectorCount else { return nil }
        return item.checksum(ofSector: index)
    }

    /// Looks up one sector's checksum afresh from the csum tree (for confirming a mismatch).
    public static func fresh(fileSystem: FileSystem, info: FileSystemInfo, logical: UInt64) throws -> [UInt8]? {
        try CsumLookup(fileSystem: fileSystem, info: info, range: logical..<(logical + UInt64(info.sectorSize)))
            .checksum(at: logical).map(Array.init)
    }
}

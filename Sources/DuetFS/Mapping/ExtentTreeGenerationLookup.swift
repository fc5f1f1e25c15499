/// `ExtentGenerationLookup` from the extent tree (tree 2): the `EXTENT_ITEM` (data, and tree blocks
/// without skinny metadata) and `METADATA_ITEM` (skinny tree blocks) items overlapping a logical
/// range, each with the generation it was allocated in.
///
/// A credit keeps the generation of its extent; when btrfs rewrites that data it allocates a new
/// extent (copy on write) and frees the old one, so the old address then holds no extent or one of
/// a newer generation, and the credit is void, even if nobody was watching when it happened.
///
/// Cost: extents are disjoint, so the extent overlapping the start of the range is the last one
/// starting before it; it is found by searching backwards in growing windows (1 MiB, then up to
/// `BTRFS_MAX_EXTENT_SIZE` = 128 MiB), then one forward search covers the range. A small range
/// costs two or three `TREE_SEARCH_V2` calls; the tree's live (not committed) state is read.
public struct ExtentTreeGenerationLookup: ExtentGenerationLookup, Sendable {
    public let fileSystem: FileSystem
    public let nodeSize: UInt64

    public init(fileSystem: FileSystem) throws {
        self.fileSystem = fileSystem
        self.nodeSize = UInt64(try fileSystem.info().nodeSize)
    }

    public init(fileSystem: FileSystem, nodeSize: UInt64) {
        self.fileSystem = fileSystem
        self.nodeSize = nodeSize
    }

    /// The largest data extent btrfs allocates (`BTRFS_MAX_EXTENT_SIZE`); tree blocks are smaller.
    static let maximumExtentSize: UInt64 = 128 << 20

    public func extents(overlapping range: Range<UInt64>) throws -> [ExtentGeneration] {
        guard !range.isEmpty else { return [] }
        var out: [ExtentGeneration] = []
        if let before = try extentStarting(before: range.lowerBound), before.range.upperBound > range.lowerBound {
            out.append(before)
        }
        try items(from: range.lowerBound, through: range.upperBound - 1) { extent in
            out.append(extent)
            return true
        }
        return out
    }

    /// The extent that holds `logical`, if any.
    public func extent(containing logical: UInt64) throws -> ExtentGeneration? {
        try extents(overlapping: logical..<(logical + 1)).first
    }

    /// The last extent that starts before `logical`.
    private func extentStarting(before logical: UInt64) throws -> ExtentGeneration? {
        guard logical > 0 else { return nil }
        var window: UInt64 = 1 << 20
        while true {
            let lower = logical > window ? logical - window : 0
            var last: ExtentGeneration?
            try items(from: lower, through: logical - 1) { extent in
                last = extent
                return true
            }
            if let last { return last }
            if lower == 0 || window >= Self.maximumExtentSize { return nil }
            window = min(window * 8, Self.maximumExtentSize)
        }
    }

    /// Extent and metadata items whose start lies in `first ... last`, ascending.
    private func items(from first: UInt64, through last: UInt64, _ body: (ExtentGeneration) throws -> Bool) throws {
        var cursor = fileSystem.search(
            tree: TreeID.extent, from: BtrfsKey(first, ItemType.extentItem, 0),
            to: BtrfsKey(last, ItemType.metadataItem, .max),
            types: [ItemType.extentItem, ItemType.metadataItem]
        ).makeCursor()
        while let item = try cursor.next() {
            guard let extent = try Self.decode(item, nodeSize: nodeSize) else { continue }
            if try !body(extent) { return }
        }
    }

    /// The extent an item describes: `(bytenr, EXTENT_ITEM, length)` or `(bytenr, METADATA_ITEM,
    /// level)` (node size long); the generation is the second u64 of `btrfs_extent_item`.
    static func decode(_ item: TreeItem, nodeSize: UInt64) throws -> ExtentGeneration? {
        let reader = ByteReader(item.data, what: "extent item \(item.key)")
        try reader.require(16)
        let generation = try reader.u64(8)
        let length: UInt64
        switch item.key.type {
        case ItemType.extentItem: length = item.key.offset
        case ItemType.metadataItem: length = nodeSize
        default: return nil
        }
        return ExtentGeneration(range: item.key.objectID..<(item.key.objectID + length), generation: generation)
    }
}

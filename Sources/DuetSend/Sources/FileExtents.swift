import DuetFS

/// What backs one piece of a file range, from the file's `EXTENT_DATA` items.
public enum ExtentBacking: Hashable, Sendable {
    /// No data: an implicit hole (no-holes), a hole item or a prealloc extent; reads as zeros.
    case hole
    /// Data inside the tree item.
    case inline
    /// Uncompressed data at this logical address (of the piece's first byte).
    case plain(logical: UInt64)
    /// Compressed extent of `diskBytes` bytes at `diskBytenr` (no per-byte address).
    case compressed(diskBytenr: UInt64, diskBytes: UInt64)

    /// Where the disk phase sorts it.
    var sortKey: UInt64 {
        switch self {
        case .plain(let logical): logical
        case .compressed(let disk, _): disk
        case .hole, .inline: 0
        }
    }
}

/// The extent items of one inode of one subvolume, as `TREE_SEARCH_V2` returns them.
public struct FileExtents: Sendable {
    public let items: [FileExtentItem]

    public init(fileSystem: FileSystem, root: UInt64, inode: UInt64) throws {
        var items: [FileExtentItem] = []
        try fileSystem.search(
            tree: root, from: BtrfsKey(inode, ItemType.extentData, 0),
            to: BtrfsKey(inode, ItemType.extentData, .max), types: [ItemType.extentData]
        ).forEach {
            items.append(try FileExtentItem(key: $0.key, bytes: $0.data))
        }
        self.items = items.sorted { $0.fileOffset < $1.fileOffset }
    }

    /// `range` cut where its backing changes, gaps filled with holes.
    public func pieces(of range: Range<UInt64>) -> [(Range<UInt64>, ExtentBacking)] {
        var result: [(Range<UInt64>, ExtentBacking)] = []
        var position = range.lowerBound
        for item in items {
            let itemRange = item.fileRange
            guard itemRange.upperBound > position else { continue }
            if itemRange.lowerBound >= range.upperBound { break }
            if itemRange.lowerBound > position {
                result.append((position..<itemRange.lowerBound, .hole))
                position = itemRange.lowerBound
            }
            let end = min(itemRange.upperBound, range.upperBound)
            let backing: ExtentBacking
            if item.kind == .inline {
                backing = .inline
            } else if item.isHole || item.kind == .prealloc {
                backing = .hole
            } else if item.compression != .none {
                backing = .compressed(diskBytenr: item.diskBytenr, diskBytes: item.diskNumBytes)
            } else {
                backing = .plain(logical: item.diskBytenr + item.offset + (position - item.fileOffset))
            }
            result.append((position..<end, backing))
            position = end
            if position >= range.upperBound { break }
        }
        if position < range.upperBound { result.append((position..<range.upperBound, .hole)) }
        return result
    }

    /// Where the decompressed bytes of `range` come from, if one compressed extent item maps it:
    /// the extent (`diskBytenr`, `diskBytes`) and the offset of `range` inside its decompressed
    /// data. Two files with the same triple for a range hold the same bytes there.
    public func compressedSource(of range: Range<UInt64>) -> CompressedSource? {
        guard let item = items.last(where: { $0.fileOffset <= range.lowerBound }),
            item.kind == .regular, !item.isHole, item.compression != .none,
            item.fileRange.upperBound >= range.upperBound
        else { return nil }
        return CompressedSource(
            diskBytenr: item.diskBytenr, diskBytes: item.diskNumBytes,
            offset: item.offset + (range.lowerBound - item.fileOffset))
    }

    public struct CompressedSource: Hashable, Sendable {
        public var diskBytenr: UInt64
        public var diskBytes: UInt64
        public var offset: UInt64
    }

    /// The logical address of every byte of `range`, if one uncompressed extent item maps it
    /// contiguously (what an alias must share with the snapshot's extent).
    public func plainLogical(of range: Range<UInt64>) -> UInt64? {
        guard let item = items.last(where: { $0.fileOffset <= range.lowerBound }),
            item.kind == .regular, !item.isHole, item.compression == .none,
            item.fileRange.upperBound >= range.upperBound
        else { return nil }
        return item.logical(ofFileOffset: range.lowerBound)
    }
}

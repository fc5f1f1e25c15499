/// One file's data layout as its `EXTENT_DATA` items describe it, in pages: the pure arithmetic
/// behind `FileExtentMapper`, kept apart from the ioctls so unit tests can pin it down.
public struct FileExtentMap: Sendable, Equatable {
    /// How a run of pages is stored.
    public enum Kind: Sendable, Equatable {
        /// Uncompressed data at `logical` (the exact bytes of the pages).
        case regular
        /// Compressed data: the pages cannot be verified apart from the whole disk extent
        /// (`disk_bytenr ..< + disk_num_bytes`), which is what `logical` names.
        case compressed
        /// `disk_bytenr == 0`: reads return zeros without touching the disk.
        case hole
        /// Data stored in the tree leaf (verified with the tree block, not as data).
        case inline
        /// Allocated but never written (fallocate): reads return zeros without I/O.
        case prealloc
        /// No item covers these pages: past the last extent, delalloc, or an unknown inode.
        case unmapped
    }

    /// One stretch of pages with one storage kind and one disk extent.
    public struct Segment: Sendable, Equatable, CustomStringConvertible {
        public var pages: Range<UInt64>
        public var kind: Kind
        /// `.regular`: the logical bytes of exactly these pages. `.compressed`: the whole disk
        /// extent. nil for the other kinds.
        public var logical: Range<UInt64>?
        /// The disk extent the pages belong to (`disk_bytenr ..< + disk_num_bytes`); nil for holes,
        /// inline and unmapped pages.
        public var diskExtent: Range<UInt64>?
        /// For `.compressed`: every page of the file that this item maps to the disk extent. Reading
        /// any of them reads the whole compressed extent; the creditor waits for all of them.
        public var itemPages: Range<UInt64>
        /// `generation` of the file extent item.
        public var generation: UInt64

        public init(
            pages: Range<UInt64>, kind: Kind, logical: Range<UInt64>?, diskExtent: Range<UInt64>?,
            itemPages: Range<UInt64>, generation: UInt64
        ) {
            self.pages = pages
            self.kind = kind
            self.logical = logical
            self.diskExtent = diskExtent
            self.itemPages = itemPages
            self.generation = generation
        }

        public var description: String {
            "pages \(pages.lowerBound)..<\(pages.upperBound) \(kind)"
                + (logical.map { " logical \($0.lowerBound)..<\($0.upperBound)" } ?? "")
        }
    }

    /// One `EXTENT_DATA` item, reduced to what mapping needs.
    public struct Extent: Sendable, Equatable {
        /// File byte range (`key.offset ..< + num_bytes`; for inline, `ram_bytes`).
        public var fileRange: Range<UInt64>
        public var kind: Kind
        public var diskBytenr: UInt64
        public var diskNumBytes: UInt64
        /// Offset into the (decompressed) extent where `fileRange` starts.
        public var offset: UInt64
        public var generation: UInt64

        public init(
            fileRange: Range<UInt64>, kind: Kind, diskBytenr: UInt64, diskNumBytes: UInt64,
            offset: UInt64, generation: UInt64
        ) {
            self.fileRange = fileRange
            self.kind = kind
            self.diskBytenr = diskBytenr
            self.diskNumBytes = diskNumBytes
            self.offset = offset
            self.generation = generation
        }

        public init(_ item: FileExtentItem) {
            let kind: Kind
            switch item.kind {
            case .inline: kind = .inline
            case .prealloc: kind = .prealloc
            case .regular:
                if item.diskBytenr == 0 { kind = .hole } else if item.compression != .none { kind = .compressed } else { kind = .regular }
            }
            self.init(
                fileRange: item.fileOffset..<(item.fileOffset + item.numBytes), kind: kind,
                diskBytenr: item.diskBytenr, diskNumBytes: item.diskNumBytes,
                offset: item.offset, generation: item.generation)
        }
    }

    /// Items sorted by file offset, not overlapping (as btrfs keeps them).
    public private(set) var extents: [Extent]
    /// `btrfs_inode_item.flags` (`BTRFS_INODE_*`), 0 when unknown.
    public var inodeFlags: UInt64
    public var isRegularFile: Bool

    public init(extents: [Extent], inodeFlags: UInt64 = 0, isRegularFile: Bool = true) {
        self.extents = extents.sorted { $0.fileRange.lowerBound < $1.fileRange.lowerBound }
        self.inodeFlags = inodeFlags
        self.isRegularFile = isRegularFile
    }

    /// `BTRFS_INODE_NODATASUM`: the file's data has no checksums, so a read verifies nothing.
    public static let noDataSumFlag: UInt64 = 1 << 0
    /// `BTRFS_INODE_NODATACOW` (implies no checksums for data written while it is set).
    public static let noDataCowFlag: UInt64 = 1 << 1

    /// Whether reads of this file's data verify checksums.
    public var hasDataChecksums: Bool { inodeFlags & (Self.noDataSumFlag | Self.noDataCowFlag) == 0 }

    /// The segments covering `pages`, in order, without gaps: pages no item covers are `.unmapped`.
    /// A page that two items share (an item boundary inside a page; btrfs aligns items to the
    /// sector size, so this needs sectors smaller than pages) takes the first item's kind.
    public func segments(_ pages: Range<UInt64>) -> [Segment] {
        guard !pages.isEmpty else { return [] }
        var out: [Segment] = []
        var page = pages.lowerBound
        var index = firstExtent(endingAfter: page * pageSize)
        while page < pages.upperBound {
            guard index < extents.count else {
                out.append(
                    Segment(
                        pages: page..<pages.upperBound, kind: .unmapped, logical: nil, diskExtent: nil,
                        itemPages: page..<pages.upperBound, generation: 0))
                break
            }
            let extent = extents[index]
            let firstItemPage = extent.fileRange.lowerBound / pageSize
            let endItemPage = (extent.fileRange.upperBound + pageSize - 1) / pageSize
            if page < firstItemPage {
                let end = min(firstItemPage, pages.upperBound)
                out.append(
                    Segment(
                        pages: page..<end, kind: .unmapped, logical: nil, diskExtent: nil,
                        itemPages: page..<end, generation: 0))
                page = end
                continue
            }
            let end = min(endItemPage, pages.upperBound)
            if end <= page {
                index += 1
                continue
            }
            out.append(segment(of: extent, pages: page..<end, itemPages: firstItemPage..<endItemPage))
            page = end
            index += 1
        }
        return Self.merged(out)
    }

    /// The logical ranges of `pages`, merged where adjacent; nil when none of the pages has data the
    /// mapper can name (holes, inline, prealloc, unmapped). Compressed extents come whole.
    public func logicalRanges(_ pages: Range<UInt64>) -> [Range<UInt64>]? {
        var ranges: [Range<UInt64>] = []
        for segment in segments(pages) {
            guard let logical = segment.logical else { continue }
            if let last = ranges.last, last.upperBound == logical.lowerBound {
                ranges[ranges.count - 1] = last.lowerBound..<logical.upperBound
            } else if let last = ranges.last, last == logical {
                continue  // the same compressed extent again
            } else {
                ranges.append(logical)
            }
        }
        return ranges.isEmpty ? nil : ranges
    }

    private func segment(of extent: Extent, pages: Range<UInt64>, itemPages: Range<UInt64>) -> Segment {
        switch extent.kind {
        case .regular:
            // logical = disk_bytenr + offset + (position - key.offset), clipped to the item's bytes.
            let lowerPosition = max(pages.lowerBound * pageSize, extent.fileRange.lowerBound)
            let upperPosition = min(pages.upperBound * pageSize, extent.fileRange.upperBound)
            let base = extent.diskBytenr + extent.offset
            let logical = (base + lowerPosition - extent.fileRange.lowerBound)..<(base + upperPosition - extent.fileRange.lowerBound)
            return Segment(
                pages: pages, kind: .regular, logical: logical,
                diskExtent: extent.diskBytenr..<(extent.diskBytenr + extent.diskNumBytes),
                itemPages: itemPages, generation: extent.generation)
        case .compressed:
            let whole = extent.diskBytenr..<(extent.diskBytenr + extent.diskNumBytes)
            return Segment(
                pages: pages, kind: .compressed, logical: whole, diskExtent: whole,
                itemPages: itemPages, generation: extent.generation)
        case .prealloc:
            return Segment(
                pages: pages, kind: .prealloc, logical: nil,
                diskExtent: extent.diskBytenr..<(extent.diskBytenr + extent.diskNumBytes),
                itemPages: itemPages, generation: extent.generation)
        case .hole, .inline, .unmapped:
            return Segment(
                pages: pages, kind: extent.kind, logical: nil, diskExtent: nil,
                itemPages: itemPages, generation: extent.generation)
        }
    }

    /// Index of the first item whose file range ends after `position` (binary search).
    private func firstExtent(endingAfter position: UInt64) -> Int {
        var low = 0
        var high = extents.count
        while low < high {
            let mid = (low + high) / 2
            if extents[mid].fileRange.upperBound <= position { low = mid + 1 } else { high = mid }
        }
        return low
    }

    /// Joins neighbours that continue each other: regular pages contiguous on disk in one extent,
    /// and runs of the same non-data kind.
    static func merged(_ segments: [Segment]) -> [Segment] {
        var out: [Segment] = []
        out.reserveCapacity(segments.count)
        for segment in segments {
            if var last = out.last, last.pages.upperBound == segment.pages.lowerBound, last.kind == segment.kind {
                switch segment.kind {
                case .regular:
                    if let a = last.logical, let b = segment.logical, a.upperBound == b.lowerBound,
                        last.diskExtent == segment.diskExtent, last.generation == segment.generation
                    {
                        last.pages = last.pages.lowerBound..<segment.pages.upperBound
                        last.logical = a.lowerBound..<b.upperBound
                        last.itemPages =
                            min(
                                last.itemPages.lowerBound, segment.itemPages.lowerBound)..<max(
                                last.itemPages.upperBound, segment.itemPages.upperBound)
                        out[out.count - 1] = last
                        continue
                    }
                case .hole, .unmapped:
                    last.pages = last.pages.lowerBound..<segment.pages.upperBound
                    last.itemPages = last.pages
                    out[out.count - 1] = last
                    continue
                case .compressed, .inline, .prealloc:
                    break
                }
            }
            out.append(segment)
        }
        return out
    }
}

/// Tree blocks read through the btree inode (inode 1): its page index times the page size is a
/// metadata logical address. A page names the whole node-size tree block around it.
public enum BtreeInodeMapping {
    /// The node-size-aligned tree block ranges covering `pages` of the btree inode, merged.
    public static func treeBlocks(firstPage: UInt64, pageCount: UInt64, nodeSize: UInt64) -> [Range<UInt64>] {
        guard pageCount > 0, nodeSize > 0 else { return [] }
        let lower = firstPage * pageSize
        let upper = (firstPage + pageCount) * pageSize
        let alignedLower = lower / nodeSize * nodeSize
        let alignedUpper = (upper + nodeSize - 1) / nodeSize * nodeSize
        return [alignedLower..<alignedUpper]
    }
}

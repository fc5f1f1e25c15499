/// Maps logical addresses to every mirror's `(device, physical offset)` through the chunk tree,
/// as the kernel's `btrfs_map_block` does for reads of each copy.
///
/// SINGLE, DUP and RAID1/1C3/1C4 chunks hold a full copy per stripe. RAID0 and RAID10 split the
/// chunk into `stripe_len` elements rotating over the stripes (RAID10 over groups of
/// `sub_stripes` mirrors). RAID5/6 are recognised and reported as not mapped: their rotating
/// parity layout is left to the kernel scrub.
public struct ChunkMap: Sendable {
    /// Chunks sorted by logical start.
    public let chunks: [ChunkItem]

    public init(chunks: [ChunkItem]) {
        self.chunks = chunks.sorted { $0.logical < $1.logical }
    }

    /// Reads every `CHUNK_ITEM` of the chunk tree.
    public static func load(from fileSystem: FileSystem) throws -> ChunkMap {
        var chunks: [ChunkItem] = []
        try fileSystem.items(
            tree: TreeID.chunk, type: ItemType.chunkItem,
            objectIDs: TreeID.firstChunkTree...TreeID.firstChunkTree
        ).forEach { item in
            chunks.append(try ChunkItem(logical: item.key.offset, bytes: item.data))
        }
        return ChunkMap(chunks: chunks)
    }

    /// The chunk whose logical range holds `logical`.
    public func chunk(containing logical: UInt64) -> ChunkItem? {
        var low = 0
        var high = chunks.count
        while low < high {
            let mid = (low + high) / 2
            if chunks[mid].logical <= logical { low = mid + 1 } else { high = mid }
        }
        guard low > 0 else { return nil }
        let candidate = chunks[low - 1]
        return logical < candidate.logical + candidate.length ? candidate : nil
    }

    /// Where the bytes at `logical` live: one location per copy, and how many bytes from
    /// `logical` stay contiguous on every copy (to the end of the stripe element or chunk).
    public func map(_ logical: UInt64) throws(ChunkMapError) -> Mapping {
        guard let chunk = chunk(containing: logical) else { throw .notMapped(logical: logical) }
        let profile = chunk.flags.profile
        let offset = logical - chunk.logical
        let stripeLength = chunk.stripeLength
        switch profile {
        case .single, .dup, .raid1, .raid1c3, .raid1c4:
            let copies = chunk.stripes.enumerated().map { index, stripe in
                PhysicalLocation(mirror: index + 1, deviceID: stripe.deviceID, physical: stripe.offset + offset)
            }
            return Mapping(logical: logical, chunk: chunk, copies: copies, contiguousLength: chunk.length - offset)
        case .raid0, .raid10:
            guard stripeLength > 0 else { throw .malformed(chunkLogical: chunk.logical, reason: "stripe length 0") }
            let mirrorsPerGroup = profile == .raid10 ? max(Int(chunk.subStripes), 1) : 1
            let groups = chunk.stripes.count / mirrorsPerGroup
            guard groups > 0, chunk.stripes.count % mirrorsPerGroup == 0 else {
                throw .malformed(chunkLogical: chunk.logical, reason: "\(chunk.stripes.count) stripes, sub_stripes \(chunk.subStripes)")
            }
            let element = offset / stripeLength
            let withinElement = offset % stripeLength
            let group = Int(element % UInt64(groups))
            let row = element / UInt64(groups)
            let copies = (0..<mirrorsPerGroup).map { copy -> PhysicalLocation in
                let stripe = chunk.stripes[group * mirrorsPerGroup + copy]
                return PhysicalLocation(
                    mirror: copy + 1, deviceID: stripe.deviceID,
                    physical: stripe.offset + row * stripeLength + withinElement)
            }
            let contiguous = min(stripeLength - withinElement, chunk.length - offset)
            return Mapping(logical: logical, chunk: chunk, copies: copies, contiguousLength: contiguous)
        case .raid5, .raid6:
            throw .parity(logical: logical, profile: profile)
        }
    }

    /// Splits a logical range into pieces that are contiguous on every copy.
    public func map(range: Range<UInt64>) throws(ChunkMapError) -> [Mapping] {
        var pieces: [Mapping] = []
        var position = range.lowerBound
        while position < range.upperBound {
            var piece = try map(position)
            piece.contiguousLength = min(piece.contiguousLength, range.upperBound - position)
            pieces.append(piece)
            position += piece.contiguousLength
        }
        return pieces
    }

    public struct Mapping: Sendable, Equatable {
        public var logical: UInt64
        public var chunk: ChunkItem
        /// One entry per copy, mirror numbers from 1 as `btrfs-map-logical` prints them.
        public var copies: [PhysicalLocation]
        public var contiguousLength: UInt64
    }
}

/// One copy of a logical address on a device.
public struct PhysicalLocation: Hashable, Sendable, Codable {
    public var mirror: Int
    public var deviceID: UInt64
    public var physical: UInt64
}

public enum ChunkMapError: Error, Equatable, CustomStringConvertible {
    case notMapped(logical: UInt64)
    case parity(logical: UInt64, profile: Profile)
    case malformed(chunkLogical: UInt64, reason: String)

    public var description: String {
        switch self {
        case .notMapped(let logical): "logical address \(logical) is in no chunk"
        case .parity(let logical, let profile):
            "logical address \(logical) is in a \(profile.name) chunk, which Duet leaves to the kernel scrub"
        case .malformed(let chunk, let reason): "chunk at logical \(chunk) is malformed: \(reason)"
        }
    }
}

import DuetFS

/// Confirms a mismatch before it is reported (step 5). A user-space reader races the live file
/// system: an extent may be freed and its space reused, or rewritten, between planning and
/// reading. So: the extent must still exist with the generation it was planned with, its
/// checksum is looked up afresh, and the copy is read again; only what still fails is an error.
public struct Confirmer: Sendable {
    public let fileSystem: FileSystem
    public let info: FileSystemInfo
    /// The largest data extent btrfs writes (`BTRFS_MAX_EXTENT_SIZE`): how far back an extent
    /// covering an address can start.
    static let maximumExtentSize: UInt64 = 128 << 20

    public init(fileSystem: FileSystem, info: FileSystemInfo) {
        self.fileSystem = fileSystem
        self.info = info
    }

    /// Whether the extent planned as `piece` still holds `logical` with the same generation.
    public func extentUnchanged(_ piece: ScrubPiece, logical: UInt64) throws -> Bool {
        let start = logical > Self.maximumExtentSize ? logical - Self.maximumExtentSize : 0
        var covering: ExtentItem?
        try fileSystem.search(
            tree: TreeID.extent, from: BtrfsKey(start, ItemType.extentItem, 0),
            to: BtrfsKey(logical, ItemType.metadataItem, .max),
            types: [ItemType.extentItem, ItemType.metadataItem]
        ).forEach { item in
            let extent = try ExtentItem(key: item.key, bytes: item.data, nodeSize: UInt64(info.nodeSize))
            if extent.bytenr <= logical, logical < extent.bytenr + extent.length { covering = extent }
        }
        guard let covering else { return false }
        return covering.generation == piece.generation && covering.isTreeBlock == (piece.kind == .treeBlock)
    }

    /// Re-checks a data sector that failed its checksum.
    public func confirmDataSector(_ piece: ScrubPiece, logical: UInt64, physical: UInt64, reader: DeviceReader) -> Confirmation {
        do {
            guard try extentUnchanged(piece, logical: logical) else { return .cleared }
            guard let expected = try CsumLookup.fresh(fileSystem: fileSystem, info: info, logical: logical) else { return .cleared }
            let sector: [UInt8]
            do { sector = try reader.read(offset: physical, length: Int(info.sectorSize)) } catch { return .unreadable(error) }
            guard Checksummer(info.checksumType).digest(sector) != expected else { return .cleared }
            // The extent may have been freed while we read: look once more.
            return try extentUnchanged(piece, logical: logical) ? .persists(.dataChecksum, "data checksum mismatch") : .cleared
        } catch {
            return .failed(error)
        }
    }

    /// Re-checks a tree block that failed its checks.
    public func confirmTreeBlock(_ piece: ScrubPiece, reader: DeviceReader, check: TreeBlockCheck) -> Confirmation {
        do {
            guard try extentUnchanged(piece, logical: piece.logical) else { return .cleared }
            let block: [UInt8]
            do { block = try reader.read(offset: piece.physical, length: Int(info.nodeSize)) } catch { return .unreadable(error) }
            let generation = try fileSystem.info().generation
            let problem = block.withUnsafeBytes {
                check.problem($0, logical: piece.logical, level: piece.level, maximumGeneration: generation)
            }
            guard let problem, try extentUnchanged(piece, logical: piece.logical) else { return .cleared }
            return .persists(problem.0, problem.1)
        } catch {
            return .failed(error)
        }
    }
}

import Glibc

/// What `duet info` reports: identity, checksum, devices, block-group usage per type and
/// profile, and subvolumes.
public struct FileSystemReport: Codable, Sendable {
    public struct Device: Codable, Sendable {
        public var id: UInt64
        public var path: String
        public var sizeBytes: UInt64
        /// Bytes allocated to chunks on the device.
        public var usedBytes: UInt64
    }

    public struct Allocation: Codable, Sendable {
        /// "Data", "Metadata", "System" (or "Data+Metadata" for mixed block groups).
        public var type: String
        public var profile: String
        public var totalBytes: UInt64
        public var usedBytes: UInt64
    }

    public struct SubvolumeEntry: Codable, Sendable {
        public var id: UInt64
        public var path: String
        public var readOnly: Bool
        /// The subvolume this one is linked in.
        public var parentID: UInt64
        public var uuid: String
        /// For snapshots, the UUID of the subvolume they were taken of.
        public var parentUUID: String?
        public var receivedUUID: String?
        public var generation: UInt64
    }

    /// The fsid, as `btrfs filesystem show` prints it.
    public var uuid: String
    /// The mount point holding the path the report was asked for (which may be below it).
    public var mountPath: String
    public var metadataUUID: String
    public var checksum: String
    public var checksumSizeBytes: Int
    public var nodeSizeBytes: UInt32
    public var sectorSizeBytes: UInt32
    public var generation: UInt64
    public var devices: [Device]
    public var allocations: [Allocation]
    public var subvolumes: [SubvolumeEntry]

    /// Gathers the report from the mounted file system (tree searches need root).
    public init(fileSystem: FileSystem) throws {
        let info = try fileSystem.info()
        uuid = info.fsid.description
        // The path it was opened at names the file system as well when the mount table cannot be read.
        mountPath = (try? MountTable.current().entry(containing: fileSystem.path).mountPoint) ?? fileSystem.path
        metadataUUID = info.metadataUUID.description
        checksum = info.checksumType.name
        checksumSizeBytes = info.checksumType.size
        nodeSizeBytes = info.nodeSize
        sectorSizeBytes = info.sectorSize
        generation = info.generation
        devices = try fileSystem.devices().map { Device(id: $0.id, path: $0.path, sizeBytes: $0.totalBytes, usedBytes: $0.bytesUsed) }

        var totals: [UInt64: (total: UInt64, used: UInt64)] = [:]
        for group in try BlockGroups.load(from: fileSystem) {
            let current = totals[group.flags.rawValue] ?? (0, 0)
            totals[group.flags.rawValue] = (current.total + group.length, current.used + group.used)
        }
        allocations = totals.map { flags, usage in
            let flags = BlockGroupFlags(rawValue: flags)
            return Allocation(type: flags.typeName, profile: flags.profile.name, totalBytes: usage.total, usedBytes: usage.used)
        }.sorted { (Self.typeOrder($0.type), $0.profile) < (Self.typeOrder($1.type), $1.profile) }

        subvolumes = try Subvolumes.list(mountPath: fileSystem.path).map { subvolume in
            SubvolumeEntry(
                id: subvolume.id, path: subvolume.path, readOnly: subvolume.isReadOnly,
                parentID: subvolume.parentID, uuid: UUIDText.format(subvolume.uuid),
                parentUUID: UUIDText.isNil(subvolume.parentUUID) ? nil : UUIDText.format(subvolume.parentUUID),
                receivedUUID: UUIDText.isNil(subvolume.receivedUUID) ? nil : UUIDText.format(subvolume.receivedUUID),
                generation: subvolume.generation)
        }
    }

    private static func typeOrder(_ type: String) -> Int {
        switch type {
        case "Data": 0
        case "Metadata": 1
        case "System": 2
        default: 3
        }
    }
}

/// Block group items, from the block group tree when the file system has one, else the extent tree.
public enum BlockGroups {
    public static func load(from fileSystem: FileSystem) throws -> [BlockGroupItem] {
        var groups: [BlockGroupItem] = []
        do {
            try fileSystem.items(tree: TreeID.blockGroup, type: ItemType.blockGroupItem).forEach {
                groups.append(try BlockGroupItem(key: $0.key, bytes: $0.data))
            }
        } catch let error as DuetError where error.errno == ENOENT {
            // No block group tree: the items live in the extent tree.
        }
        if groups.isEmpty {
            try fileSystem.items(tree: TreeID.extent, type: ItemType.blockGroupItem).forEach {
                groups.append(try BlockGroupItem(key: $0.key, bytes: $0.data))
            }
        }
        return groups
    }
}

import CDuet
import Glibc
import SystemPackage

/// A mounted btrfs file system, opened by any path on it. Each method wraps one ioctl and
/// names it; the descriptor is closed when the value is released.
public final class FileSystem: Sendable {
    public let path: String
    /// The open directory descriptor every ioctl goes through.
    public let descriptor: FileDescriptor

    /// `statfs.f_type` of btrfs (`BTRFS_SUPER_MAGIC`).
    static let superMagic: Int = 0x9123_683E

    /// Opens `path` (the mount point or any directory of the file system).
    public init(path: String) throws {
        var status = stat()
        guard stat(path, &status) == 0 else {
            let code = errno
            if code == ENOENT || code == ENOTDIR {
                throw DuetError(.notMounted, "\(path) does not exist: give the mount point of a mounted btrfs file system")
            }
            throw DuetError.system("stat", path, errno: code)
        }
        guard status.st_mode & S_IFMT == S_IFDIR else {
            throw DuetError(.notMounted, "\(path) is not a directory: give the mount point of a mounted btrfs file system")
        }
        var fsStatus = statfs()
        guard statfs(path, &fsStatus) == 0 else { throw DuetError.system("statfs", path) }
        guard Int(fsStatus.f_type) == Self.superMagic else {
            throw DuetError(.notBtrfs, "\(path) is not on a btrfs file system (mount a btrfs file system there, or give its mount point)")
        }
        do {
            descriptor = try FileDescriptor.open(FilePath(path), .readOnly, options: [.directory, .closeOnExec])
        } catch let error as Errno {
            throw DuetError.system("open", path, errno: error.rawValue)
        }
        self.path = path
    }

    // A read-only descriptor's close loses nothing, and a deinit cannot throw.
    deinit { try? descriptor.close() }

    /// Issues `request` with `argument`; on failure throws naming the ioctl and the path.
    func ioctl(_ name: String, _ request: UInt, _ argument: UnsafeMutableRawPointer?, subject: String? = nil) throws(DuetError) {
        do {
            _ = try descriptor.ioctl(request, argument)
        } catch {
            throw DuetError.system(name, subject ?? path, error)
        }
    }

    /// `BTRFS_IOC_FS_INFO` with checksum, generation and metadata-uuid information.
    public func info() throws -> FileSystemInfo {
        var args = btrfs_ioctl_fs_info_args()
        args.flags = UInt64(BTRFS_FS_INFO_FLAG_CSUM_INFO | BTRFS_FS_INFO_FLAG_GENERATION | BTRFS_FS_INFO_FLAG_METADATA_UUID)
        try ioctl("BTRFS_IOC_FS_INFO", duet_ioc_fs_info(), &args)
        guard let checksum = ChecksumType(rawValue: args.csum_type) else {
            throw DuetError(.unsupported, "\(path): unknown checksum type \(args.csum_type)")
        }
        let fsid = withUnsafeBytes(of: args.fsid) { Array($0) }
        let metadataUUID = withUnsafeBytes(of: args.metadata_uuid) { Array($0) }
        return FileSystemInfo(
            fsid: FileSystemID(bytes: fsid),
            metadataUUID: FileSystemID(bytes: UUIDText.isNil(metadataUUID) ? fsid : metadataUUID),
            deviceCount: args.num_devices, maxDeviceID: args.max_id,
            nodeSize: args.nodesize, sectorSize: args.sectorsize,
            checksumType: checksum, generation: args.generation)
    }

    /// `BTRFS_IOC_DEV_INFO` for every device id from 1 to `max_id`, skipping gaps (ENODEV).
    public func devices() throws -> [DeviceInfo] {
        let maxID = try info().maxDeviceID
        var devices: [DeviceInfo] = []
        for id in 1...max(maxID, 1) {
            if let device = try device(id: id) { devices.append(device) }
        }
        return devices
    }

    /// `BTRFS_IOC_DEV_INFO` for one device id, nil if there is no such device.
    public func device(id: UInt64) throws -> DeviceInfo? {
        var args = btrfs_ioctl_dev_info_args()
        args.devid = id
        do {
            _ = try descriptor.ioctl(duet_ioc_dev_info(), &args)
        } catch .operationNotSupportedByDevice {  // ENODEV: no device with this id
            return nil
        } catch {
            throw DuetError.system("BTRFS_IOC_DEV_INFO (devid \(id))", path, error)
        }
        let devicePath = withUnsafeBytes(of: args.path) { raw in
            String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
        }
        return DeviceInfo(
            id: args.devid, path: devicePath, totalBytes: args.total_bytes, bytesUsed: args.bytes_used,
            uuid: withUnsafeBytes(of: args.uuid) { Array($0) })
    }

    /// `BTRFS_IOC_GET_DEV_STATS`: the persistent error counters of one device.
    public func deviceStatistics(id: UInt64) throws -> DeviceStatistics {
        var args = btrfs_ioctl_get_dev_stats()
        args.devid = id
        args.nr_items = UInt64(BTRFS_DEV_STAT_VALUES_MAX.rawValue)
        try ioctl("BTRFS_IOC_GET_DEV_STATS (devid \(id))", duet_ioc_get_dev_stats(), &args)
        let values = withUnsafeBytes(of: args.values) { Array($0.bindMemory(to: UInt64.self)) }
        return DeviceStatistics(
            writeErrors: values[0], readErrors: values[1], flushErrors: values[2],
            corruptionErrors: values[3], generationErrors: values[4])
    }

    /// `BTRFS_IOC_SYNC`: commits the running transaction, so the trees match what is on disk.
    public func sync() throws {
        try ioctl("BTRFS_IOC_SYNC", duet_ioc_sync(), nil)
    }

    /// Commits the running transaction (`BTRFS_IOC_START_SYNC`, then `BTRFS_IOC_WAIT_SYNC`) and
    /// returns its generation: every tree block and extent of that generation or older is on disk.
    /// `info().generation` is no substitute: it names the running transaction once another writer
    /// has started one, whose new tree blocks are not written until it commits.
    public func commitGeneration() throws -> UInt64 {
        var transaction: UInt64 = 0
        try ioctl("BTRFS_IOC_START_SYNC", duet_ioc_start_sync(), &transaction)
        try ioctl("BTRFS_IOC_WAIT_SYNC", duet_ioc_wait_sync(), &transaction)
        return transaction
    }

    /// A `BTRFS_IOC_TREE_SEARCH_V2` cursor over `tree` between two keys, optionally keeping only `types`.
    public func search(tree: UInt64, from start: BtrfsKey = .min, to end: BtrfsKey = .max, types: Set<UInt8>? = nil) -> TreeSearch {
        TreeSearch(descriptor: descriptor.rawValue, subject: path, tree: tree, range: start...end, types: types)
    }

    /// Every item of one type for one objectid range: the common case of a typed search.
    public func items(tree: UInt64, type: UInt8, objectIDs: ClosedRange<UInt64> = 0...UInt64.max) -> TreeSearch {
        search(tree: tree, from: BtrfsKey(objectIDs.lowerBound, type, 0), to: BtrfsKey(objectIDs.upperBound, type, .max), types: [type])
    }
}

/// What `BTRFS_IOC_FS_INFO` reports.
public struct FileSystemInfo: Sendable, Equatable {
    public var fsid: FileSystemID
    /// Tree block headers carry this (equals the fsid unless the metadata_uuid feature is on).
    public var metadataUUID: FileSystemID
    public var deviceCount: UInt64
    public var maxDeviceID: UInt64
    public var nodeSize: UInt32
    public var sectorSize: UInt32
    public var checksumType: ChecksumType
    public var generation: UInt64
}

/// What `BTRFS_IOC_DEV_INFO` reports for one device.
public struct DeviceInfo: Sendable, Equatable {
    public var id: UInt64
    public var path: String
    public var totalBytes: UInt64
    /// Bytes allocated to chunks on this device.
    public var bytesUsed: UInt64
    public var uuid: [UInt8]
}

/// The persistent per-device error counters (`btrfs device stats`).
public struct DeviceStatistics: Sendable, Equatable, Codable {
    public var writeErrors: UInt64
    public var readErrors: UInt64
    public var flushErrors: UInt64
    public var corruptionErrors: UInt64
    public var generationErrors: UInt64

    public init(writeErrors: UInt64, readErrors: UInt64, flushErrors: UInt64, corruptionErrors: UInt64, generationErrors: UInt64) {
        self.writeErrors = writeErrors
        self.readErrors = readErrors
        self.flushErrors = flushErrors
        self.corruptionErrors = corruptionErrors
        self.generationErrors = generationErrors
    }

    public var total: UInt64 { writeErrors + readErrors + flushErrors + corruptionErrors + generationErrors }
}

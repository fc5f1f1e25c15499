import CDuet
import Glibc

/// One file that references a logical address (`LOGICAL_INO_V2` result triple).
public struct InodeReference: Hashable, Sendable, Codable {
    public var inode: UInt64
    /// Byte offset in the file (with `ignoringOffset`, the offset of the extent's start in the file).
    public var fileOffset: UInt64
    public var root: UInt64

    public init(inode: UInt64, fileOffset: UInt64, root: UInt64) {
        self.inode = inode
        self.fileOffset = fileOffset
        self.root = root
    }
}

extension FileSystem {
    /// `BTRFS_IOC_LOGICAL_INO_V2`: the files whose extents cover `logical`.
    ///
    /// The result container's `elem_cnt` counts u64 values, three per reference. With
    /// `ignoringOffset` every reference to the whole extent is returned (snapshots and
    /// reflinks of other parts of it too).
    public func inodes(atLogical logical: UInt64, ignoringOffset: Bool = false, bufferSize: Int = 64 * 1024) throws -> [InodeReference] {
        let size = min(max(bufferSize, 4096), 16 * 1024 * 1024)
        let container = UnsafeMutableRawPointer.allocate(byteCount: size, alignment: 8)
        defer { container.deallocate() }
        memset(container, 0, size)
        var args = btrfs_ioctl_logical_ino_args()
        args.logical = logical
        args.size = UInt64(size)
        args.flags = ignoringOffset ? UInt64(BTRFS_LOGICAL_INO_ARGS_IGNORE_OFFSET) : 0
        args.inodes = UInt64(UInt(bitPattern: container))
        try ioctl("BTRFS_IOC_LOGICAL_INO_V2 (logical \(logical))", duet_ioc_logical_ino_v2(), &args)
        let header = container.load(as: btrfs_data_container.self)
        let values = (container + MemoryLayout<btrfs_data_container>.size).assumingMemoryBound(to: UInt64.self)
        let count = Int(header.elem_cnt) / 3
        return (0..<count).map { i in
            InodeReference(inode: values[3 * i], fileOffset: values[3 * i + 1], root: values[3 * i + 2])
        }
    }

    /// `BTRFS_IOC_INO_PATHS` on `directory` (which must be inside the subvolume that holds the
    /// inode): every path of the inode, relative to that subvolume's root.
    public static func paths(ofInode inode: UInt64, inSubvolumeAt directory: String, bufferSize: Int = 64 * 1024) throws -> [String] {
        let descriptor = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard descriptor >= 0 else { throw DuetError.system("open", directory) }
        defer { close(descriptor) }
        let container = UnsafeMutableRawPointer.allocate(byteCount: bufferSize, alignment: 8)
        defer { container.deallocate() }
        memset(container, 0, bufferSize)
        var args = btrfs_ioctl_ino_path_args()
        args.inum = inode
        args.size = UInt64(bufferSize)
        args.fspath = UInt64(UInt(bitPattern: container))
        if duet_ioctl(descriptor, duet_ioc_ino_paths(), &args) != 0 {
            throw DuetError.system("BTRFS_IOC_INO_PATHS (inode \(inode))", directory)
        }
        let header = container.load(as: btrfs_data_container.self)
        let values = container + MemoryLayout<btrfs_data_container>.size
        return (0..<Int(header.elem_cnt)).map { i in
            // Each value is the offset of a NUL-terminated path from the start of the values.
            let offset = Int(values.load(fromByteOffset: 8 * i, as: UInt64.self))
            return String(cString: (values + offset).assumingMemoryBound(to: CChar.self))
        }
    }
}

/// One extent of a file as `FS_IOC_FIEMAP` reports it; on btrfs `physical` is the logical address.
public struct FiemapExtent: Hashable, Sendable {
    public var fileOffset: UInt64
    public var logical: UInt64
    public var length: UInt64
    public var flags: UInt32

    public var isLast: Bool { flags & UInt32(FIEMAP_EXTENT_LAST) != 0 }
    public var isShared: Bool { flags & UInt32(FIEMAP_EXTENT_SHARED) != 0 }
    public var isInline: Bool { flags & UInt32(FIEMAP_EXTENT_DATA_INLINE) != 0 }
    public var isUnwritten: Bool { flags & UInt32(FIEMAP_EXTENT_UNWRITTEN) != 0 }
    public var isEncoded: Bool { flags & UInt32(FIEMAP_EXTENT_ENCODED) != 0 }
}

public enum Fiemap {
    /// `FS_IOC_FIEMAP` over the whole file at `path`, with `FIEMAP_FLAG_SYNC` so delayed
    /// allocations are on disk first.
    public static func extents(ofFileAt path: String, sync: Bool = true) throws -> [FiemapExtent] {
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { throw DuetError.system("open", path) }
        defer { close(descriptor) }
        let batch = 256
        let size = MemoryLayout<fiemap>.size + batch * MemoryLayout<fiemap_extent>.size
        let buffer = UnsafeMutableRawPointer.allocate(byteCount: size, alignment: 8)
        defer { buffer.deallocate() }
        var extents: [FiemapExtent] = []
        var start: UInt64 = 0
        while true {
            memset(buffer, 0, size)
            let header = buffer.bindMemory(to: fiemap.self, capacity: 1)
            header.pointee.fm_start = start
            header.pointee.fm_length = UInt64.max - start
            header.pointee.fm_flags = sync ? UInt32(FIEMAP_FLAG_SYNC) : 0
            header.pointee.fm_extent_count = UInt32(batch)
            if duet_ioctl(descriptor, duet_ioc_fiemap(), buffer) != 0 {
                throw DuetError.system("FS_IOC_FIEMAP", path)
            }
            let mapped = Int(header.pointee.fm_mapped_extents)
            if mapped == 0 { return extents }
            let records = (buffer + MemoryLayout<fiemap>.size).bindMemory(to: fiemap_extent.self, capacity: batch)
            for i in 0..<mapped {
                let record = records[i]
                extents.append(
                    FiemapExtent(
                        fileOffset: record.fe_logical, logical: record.fe_physical,
                        length: record.fe_length, flags: record.fe_flags))
            }
            let last = extents[extents.count - 1]
            if last.isLast { return extents }
            start = last.fileOffset + last.length
        }
    }
}

import CBtrfsUtil
import Glibc

/// A subvolume or snapshot as libbtrfsutil describes it.
public struct Subvolume: Hashable, Sendable {
    public var id: UInt64
    /// Path relative to the top-level subvolume (id 5); "" for the top level itself.
    public var path: String
    public var parentID: UInt64
    public var uuid: [UInt8]
    public var parentUUID: [UInt8]
    public var receivedUUID: [UInt8]
    public var isReadOnly: Bool
    public var generation: UInt64
    public var ctransid: UInt64
    public var otransid: UInt64

    init(path: String, info: btrfs_util_subvolume_info) {
        id = info.id
        self.path = path
        parentID = info.parent_id
        uuid = withUnsafeBytes(of: info.uuid) { Array($0) }
        parentUUID = withUnsafeBytes(of: info.parent_uuid) { Array($0) }
        receivedUUID = withUnsafeBytes(of: info.received_uuid) { Array($0) }
        isReadOnly = info.flags & 1 != 0  // BTRFS_ROOT_SUBVOL_RDONLY
        generation = info.generation
        ctransid = info.ctransid
        otransid = info.otransid
    }
}

/// Subvolume operations through libbtrfsutil (`btrfs_util_*`).
public enum Subvolumes {
    /// The top-level subvolume id.
    public static let topLevelID: UInt64 = 5

    static func check(_ code: btrfs_util_error, _ call: String, _ subject: String) throws {
        guard code != BTRFS_UTIL_OK else { return }
        let reason = String(cString: btrfs_util_strerror(code))
        let kind: DuetError.Kind = errno == EPERM || errno == EACCES ? .permission : .system(errno: errno)
        throw DuetError(kind, "\(call) on \(subject) failed: \(reason)")
    }

    /// Every subvolume below the top level of the file system mounted at `mountPath`
    /// (`btrfs_util_create_subvolume_iterator` with top 5; needs root), in pre-order.
    public static func list(mountPath: String) throws -> [Subvolume] {
        var iterator: OpaquePointer?
        try check(
            btrfs_util_create_subvolume_iterator(mountPath, topLevelID, 0, &iterator),
            "btrfs_util_create_subvolume_iterator", mountPath)
        defer { btrfs_util_destroy_subvolume_iterator(iterator) }
        var subvolumes: [Subvolume] = []
        while true {
            var pathPointer: UnsafeMutablePointer<CChar>?
            var info = btrfs_util_subvolume_info()
            let code = btrfs_util_subvolume_iterator_next_info(iterator, &pathPointer, &info)
            if code == BTRFS_UTIL_ERROR_STOP_ITERATION { break }
            try check(code, "btrfs_util_subvolume_iterator_next_info", mountPath)
            let path = pathPointer.map { String(cString: $0) } ?? ""
            free(pathPointer)
            subvolumes.append(Subvolume(path: path, info: info))
        }
        return subvolumes
    }

    /// `btrfs_util_subvolume_info` of the subvolume at `path` (id 0), or of subvolume `id`
    /// of the file system at `path`.
    public static func info(path: String, id: UInt64 = 0) throws -> Subvolume {
        var info = btrfs_util_subvolume_info()
        try check(btrfs_util_subvolume_info(path, id, &info), "btrfs_util_subvolume_info", path)
        var relative = ""
        if info.id != topLevelID {
            var pathPointer: UnsafeMutablePointer<CChar>?
            try check(btrfs_util_subvolume_path(path, info.id, &pathPointer), "btrfs_util_subvolume_path", path)
            relative = pathPointer.map { String(cString: $0) } ?? ""
            free(pathPointer)
        }
        return Subvolume(path: relative, info: info)
    }

    /// The id of the subvolume that contains `path`.
    public static func id(of path: String) throws -> UInt64 {
        var id: UInt64 = 0
        try check(btrfs_util_subvolume_id(path, &id), "btrfs_util_subvolume_id", path)
        return id
    }

    public static func create(at path: String) throws {
        try check(btrfs_util_create_subvolume(path, 0, nil, nil), "btrfs_util_create_subvolume", path)
    }

    public static func snapshot(of source: String, at path: String, readOnly: Bool) throws {
        let flags = readOnly ? Int32(BTRFS_UTIL_CREATE_SNAPSHOT_READ_ONLY) : 0
        try check(btrfs_util_create_snapshot(source, path, flags, nil, nil), "btrfs_util_create_snapshot", path)
    }

    public static func delete(at path: String) throws {
        try check(btrfs_util_delete_subvolume(path, 0), "btrfs_util_delete_subvolume", path)
    }

    public static func isReadOnly(_ path: String) throws -> Bool {
        var readOnly = false
        try check(btrfs_util_get_subvolume_read_only(path, &readOnly), "btrfs_util_get_subvolume_read_only", path)
        return readOnly
    }

    /// Whether the subvolume whose root directory `descriptor` is open is read-only
    /// (`BTRFS_IOC_SUBVOL_GETFLAGS`). The error keeps the errno whatever it is (EINVAL: not a
    /// subvolume's root), for callers that must report it as btrfs-progs does.
    public static func isReadOnly(descriptor: Int32) throws -> Bool {
        var readOnly = false
        guard btrfs_util_get_subvolume_read_only_fd(descriptor, &readOnly) == BTRFS_UTIL_OK else {
            let code = errno
            throw DuetError(.system(errno: code), "BTRFS_IOC_SUBVOL_GETFLAGS failed: \(String(cString: strerror(code)))")
        }
        return readOnly
    }
}

import DuetFS
import Foundation
import Glibc
import SystemPackage

/// Source (b): another subvolume whose file with the same inode number may map the same disk
/// extents as the snapshot's and have them in its own page cache: the subvolume the snapshot was
/// taken from (its `parent_uuid`), or another snapshot of that subvolume. Its bytes are used only
/// after they hash to the csum tree's checksums of the snapshot's extent.
public final class AliasSubvolume: @unchecked Sendable {
    // @unchecked: `files` and `clock` (the open-file cache) are used by the emitter's thread only.
    public let path: String
    public let root: UInt64
    let fileSystem: FileSystem
    /// The files looked up most recently (nil: no such file), least recently used dropped first:
    /// a send of a million files must not keep a descriptor per file.
    private var files: [(inode: UInt64, file: AliasFile?, used: UInt64)] = []
    private var clock: UInt64 = 0
    /// At most this many alias files are kept open.
    public static let maximumOpenFiles = 8

    /// An open file of the alias subvolume, closed when the last user lets go of it (an
    /// evicted one may still be in use by the caller that looked it up).
    public final class AliasFile: @unchecked Sendable {
        // @unchecked: the lazy `extents` and `load` are used by the emitter's thread only.
        public let descriptor: Int32
        private let load: () -> FileExtents?
        /// Its extent items, searched the first time they are asked for: callers look at the
        /// page cache first, and most alias files have nothing cached (nil: the search failed).
        public private(set) lazy var extents: FileExtents? = load()

        init(descriptor: Int32, load: @escaping () -> FileExtents?) {
            self.descriptor = descriptor
            self.load = load
        }

        deinit { close(descriptor) }
    }

    init(path: String, root: UInt64, fileSystem: FileSystem) {
        self.path = path
        self.root = root
        self.fileSystem = fileSystem
    }

    /// At most this many sibling snapshots are looked at: each costs a path lookup and an extent
    /// search per file the snapshot needs from disk.
    public static let maximumSiblings = 4

    /// The mounted subvolumes that may share `snapshot`'s extents, best first: its source
    /// subvolume, then other snapshots of that source, closest in generation first. Subvolumes
    /// deleted or reachable through no mount of this file system are left out.
    public static func find(snapshot: Subvolume, snapshotPath: String, fileSystem: FileSystem) -> [AliasSubvolume] {
        // Other sources only save reads: any failure here means none, and the send reads the snapshot.
        guard snapshot.parentUUID.contains(where: { $0 != 0 }),
            let all = try? Subvolumes.list(mountPath: snapshotPath),
            let mounts = try? MountTable.current(), let fsid = try? fileSystem.info().fsid
        else { return [] }
        // The top level (id 5) has no entry in the list; a snapshot of it names its UUID.
        var origin = all.filter { $0.uuid == snapshot.parentUUID }.map { ($0.id, $0.path) }
        // Not the top level's snapshot when it cannot be read: one source fewer.
        if origin.isEmpty, let top = try? Subvolumes.info(path: snapshotPath, id: Subvolumes.topLevelID),
            top.uuid == snapshot.parentUUID
        {
            origin = [(Subvolumes.topLevelID, "")]
        }
        let distance = { (other: Subvolume) in
            other.ctransid > snapshot.ctransid ? other.ctransid - snapshot.ctransid : snapshot.ctransid - other.ctransid
        }
        let siblings = all.filter { $0.parentUUID == snapshot.parentUUID && $0.id != snapshot.id }
            .sorted { distance($0) < distance($1) }
        var found: [AliasSubvolume] = []
        for (id, relative) in origin.prefix(1) + siblings.map({ ($0.id, $0.path) }) {
            if found.count > maximumSiblings { break }
            if let path = mountedPath(id: id, relative: relative, mounts: mounts, fsid: fsid) {
                found.append(AliasSubvolume(path: path, root: id, fileSystem: fileSystem))
            }
        }
        return found
    }

    /// A path at which subvolume `id` (at `relative` from the top level) is reachable now.
    private static func mountedPath(id: UInt64, relative: String, mounts: MountTable, fsid: FileSystemID) -> String? {
        for entry in mounts.entries where entry.isBtrfs {
            let root = entry.root == "/" ? "" : String(entry.root.dropFirst())
            let suffix: String
            if root.isEmpty {
                suffix = relative
            } else if relative == root {
                suffix = ""
            } else if relative.hasPrefix(root + "/") {
                suffix = String(relative.dropFirst(root.count + 1))
            } else {
                continue
            }
            let candidate = suffix.isEmpty ? entry.mountPoint : entry.mountPoint + "/" + suffix
            // A mount that cannot be checked is not used: reading the wrong file would cost a checksum miss.
            guard (try? Subvolumes.id(of: candidate)) == id,
                let other = try? FileSystem(path: candidate), (try? other.info().fsid) == fsid
            else { continue }
            return candidate
        }
        return nil
    }

    /// The file with inode number `inode`, opened, with its extent items; nil if none.
    public func file(inode: UInt64) -> AliasFile? {
        clock += 1
        if let slot = files.firstIndex(where: { $0.inode == inode }) {
            files[slot].used = clock
            return files[slot].file
        }
        var opened: AliasFile?
        // No name (deleted meanwhile) means no alias file: the piece comes from the snapshot.
        if let relative = try? FileSystem.paths(ofInode: inode, inSubvolumeAt: path).first {
            // Gone or replaced by a link since the lookup: no alias file, as for no name.
            let descriptor = (try? FileDescriptor.open(path + "/" + relative, .readOnly, options: .noFollow))?.rawValue ?? -1
            var status = stat()
            if descriptor >= 0, fstat(descriptor, &status) == 0, status.st_ino == inode,
                status.st_mode & S_IFMT == S_IFREG
            {
                opened = AliasFile(descriptor: descriptor) { [fileSystem, root] in
                    // nil extents make every compressed piece of this file come from the snapshot.
                    try? FileExtents(fileSystem: fileSystem, root: root, inode: inode)
                }
            } else if descriptor >= 0 {
                close(descriptor)
            }
        }
        if files.count >= Self.maximumOpenFiles, let oldest = files.indices.min(by: { files[$0].used < files[$1].used }) {
            files.remove(at: oldest)
        }
        files.append((inode, opened, clock))
        return opened
    }
}

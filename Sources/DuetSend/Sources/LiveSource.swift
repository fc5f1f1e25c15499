import DuetFS
import Foundation
import Glibc

/// Source (b): the subvolume a snapshot was taken from (found through the snapshot's
/// `parent_uuid`), whose file with the same inode number may map the same disk extents and
/// have them cached in its own page cache. Its bytes are used only after they hash to the
/// csum tree's checksums of the snapshot's extent.
public final class LiveSource: @unchecked Sendable {
    public let path: String
    public let root: UInt64
    let fileSystem: FileSystem
    private var files: [UInt64: LiveFile?] = [:]

    public struct LiveFile {
        public let descriptor: Int32
        public let extents: FileExtents
    }

    init(path: String, root: UInt64, fileSystem: FileSystem) {
        self.path = path
        self.root = root
        self.fileSystem = fileSystem
    }

    deinit {
        for case let file?? in files.values { close(file.descriptor) }
    }

    /// The mounted source subvolume of `snapshot`, or nil if it has none, was deleted, or is not
    /// reachable through any mount of this file system.
    public static func find(snapshot: Subvolume, snapshotPath: String, fileSystem: FileSystem) -> LiveSource? {
        guard snapshot.parentUUID.contains(where: { $0 != 0 }),
              let all = try? Subvolumes.list(mountPath: snapshotPath) else { return nil }
        // The top level (id 5) has no entry in the list; a snapshot of it names its UUID.
        var candidates = all.filter { $0.uuid == snapshot.parentUUID }.map { ($0.id, $0.path) }
        if candidates.isEmpty, let top = try? Subvolumes.info(path: snapshotPath, id: Subvolumes.topLevelID),
           top.uuid == snapshot.parentUUID {
            candidates = [(Subvolumes.topLevelID, "")]
        }
        guard let (id, relative) = candidates.first, let mounts = try? MountTable.current(),
              let fsid = try? fileSystem.info().fsid else { return nil }
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
            guard (try? Subvolumes.id(of: candidate)) == id,
                  let other = try? FileSystem(path: candidate), (try? other.info().fsid) == fsid else { continue }
            return LiveSource(path: candidate, root: id, fileSystem: fileSystem)
        }
        return nil
    }

    /// The live file with inode number `inode`, opened, with its extent items; nil if none.
    public func file(inode: UInt64) -> LiveFile? {
        if let known = files[inode] { return known }
        var opened: LiveFile?
        if let relative = try? FileSystem.paths(ofInode: inode, inSubvolumeAt: path).first {
            let descriptor = open(path + "/" + relative, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)
            var status = stat()
            if descriptor >= 0, fstat(descriptor, &status) == 0, status.st_ino == inode,
               status.st_mode & S_IFMT == S_IFREG,
               let extents = try? FileExtents(fileSystem: fileSystem, root: root, inode: inode) {
                opened = LiveFile(descriptor: descriptor, extents: extents)
            } else if descriptor >= 0 {
                close(descriptor)
            }
        }
        files[inode] = opened
        return opened
    }
}

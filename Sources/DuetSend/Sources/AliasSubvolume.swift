import DuetFS
import Foundation
import Glibc

/// Source (b): another subvolume whose file with the same inode number may map the same disk
/// extents as the snapshot's and have them in its own page cache: the subvolume the snapshot was
/// taken from (its `parent_uuid`), or another snapshot of that subvolume. Its bytes are used only
/// after they hash to the csum tree's checksums of the snapshot's extent.
public final class AliasSubvolume: @unchecked Sendable {
    public let path: String
    public let root: UInt64
    let fileSystem: FileSystem
    private var files: [UInt64: AliasFile?] = [:]

    public struct AliasFile {
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

    /// At most this many sibling snapshots are looked at: each costs a path lookup and an extent
    /// search per file the snapshot needs from disk.
    public static let maximumSiblings = 4

    /// The mounted subvolumes that may share `snapshot`'s extents, best first: its source
    /// subvolume, then other snapshots of that source, closest in generation first. Subvolumes
    /// deleted or reachable through no mount of this file system are left out.
    public static func find(snapshot: Subvolume, snapshotPath: String, fileSystem: FileSystem) -> [AliasSubvolume] {
        guard snapshot.parentUUID.contains(where: { $0 != 0 }),
              let all = try? Subvolumes.list(mountPath: snapshotPath),
              let mounts = try? MountTable.current(), let fsid = try? fileSystem.info().fsid else { return [] }
        // The top level (id 5) has no entry in the list; a snapshot of it names its UUID.
        var origin = all.filter { $0.uuid == snapshot.parentUUID }.map { ($0.id, $0.path) }
        if origin.isEmpty, let top = try? Subvolumes.info(path: snapshotPath, id: Subvolumes.topLevelID),
           top.uuid == snapshot.parentUUID {
            origin = [(Subvolumes.topLevelID, "")]
        }
        let distance = { (other: Subvolume) in other.ctransid > snapshot.ctransid ? other.ctransid - snapshot.ctransid : snapshot.ctransid - other.ctransid }
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
            guard (try? Subvolumes.id(of: candidate)) == id,
                  let other = try? FileSystem(path: candidate), (try? other.info().fsid) == fsid else { continue }
            return candidate
        }
        return nil
    }

    /// The file with inode number `inode`, opened, with its extent items; nil if none.
    public func file(inode: UInt64) -> AliasFile? {
        if let known = files[inode] { return known }
        var opened: AliasFile?
        if let relative = try? FileSystem.paths(ofInode: inode, inSubvolumeAt: path).first {
            let descriptor = open(path + "/" + relative, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)
            var status = stat()
            if descriptor >= 0, fstat(descriptor, &status) == 0, status.st_ino == inode,
               status.st_mode & S_IFMT == S_IFREG,
               let extents = try? FileExtents(fileSystem: fileSystem, root: root, inode: inode) {
                opened = AliasFile(descriptor: descriptor, extents: extents)
            } else if descriptor >= 0 {
                close(descriptor)
            }
        }
        files[inode] = opened
        return opened
    }
}

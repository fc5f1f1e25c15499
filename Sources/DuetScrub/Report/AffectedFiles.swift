import DuetFS

/// Names the files an error touches (`LOGICAL_INO_V2` + `INO_PATHS`), relative to the mount.
public struct AffectedFiles: Sendable {
    public let fileSystem: FileSystem
    public let mountPath: String
    /// Root id → directory of that subvolume under the mount, where reachable.
    private let subvolumeDirectories: [UInt64: String]

    public init(fileSystem: FileSystem) {
        self.fileSystem = fileSystem
        mountPath = fileSystem.path
        var directories: [UInt64: String] = [:]
        // Without the subvolume names, files are named by root and inode below: the finding stands.
        if let mountRoot = try? Subvolumes.id(of: fileSystem.path) {
            directories[mountRoot] = ""
            if mountRoot == Subvolumes.topLevelID, let all = try? Subvolumes.list(mountPath: fileSystem.path) {
                for subvolume in all { directories[subvolume.id] = subvolume.path }
            }
        }
        subvolumeDirectories = directories
    }

    /// Paths of the files referencing the data sector at `logical`.
    public func files(atLogical logical: UInt64) -> [String] {
        // Naming files adds to a finding that is reported either way; no name is better than none reported.
        guard let references = try? fileSystem.inodes(atLogical: logical) else { return [] }
        var names: [String] = []
        for reference in references {
            guard let directory = subvolumeDirectories[reference.root] else {
                names.append("root \(reference.root) inode \(reference.inode) offset \(reference.fileOffset)")
                continue
            }
            let base = directory.isEmpty ? mountPath : mountPath + "/" + directory
            // An inode whose names cannot be listed is named by number below.
            let paths = (try? FileSystem.paths(ofInode: reference.inode, inSubvolumeAt: base)) ?? []
            if paths.isEmpty {
                names.append("root \(reference.root) inode \(reference.inode) offset \(reference.fileOffset)")
            }
            for path in paths {
                names.append((directory.isEmpty ? path : directory + "/" + path) + " (offset \(reference.fileOffset))")
            }
        }
        return names
    }
}

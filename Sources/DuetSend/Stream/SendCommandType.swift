/// A send stream command number (`enum btrfs_send_cmd` in the kernel's `fs/btrfs/send.h`).
///
/// Numbers 1–22 are protocol v1, 23–25 were added by v2. The kernel's v3 (`ENABLE_VERITY`, 26)
/// needs `CONFIG_BTRFS_EXPERIMENTAL`, and a development branch reuses 26 for another command,
/// so 26 and above are not given a meaning here: the reader rejects them.
public enum SendCommandType: UInt16, Sendable, CaseIterable, CustomStringConvertible {
    case subvol = 1
    case snapshot = 2
    case mkfile = 3
    case mkdir = 4
    case mknod = 5
    case mkfifo = 6
    case mksock = 7
    case symlink = 8
    case rename = 9
    case link = 10
    case unlink = 11
    case rmdir = 12
    case setXattr = 13
    case removeXattr = 14
    case write = 15
    case clone = 16
    case truncate = 17
    case chmod = 18
    case chown = 19
    case utimes = 20
    case end = 21
    /// Only with `BTRFS_SEND_FLAG_NO_FILE_DATA`: where a `WRITE` would carry the bytes.
    case updateExtent = 22
    case fallocate = 23
    case fileattr = 24
    case encodedWrite = 25

    /// The lowest protocol version that defines this command.
    public var minimumVersion: SendStreamVersion {
        rawValue >= SendCommandType.fallocate.rawValue ? .v2 : .v1
    }

    /// Whether the command creates a new inode; these carry the `INO` attribute.
    public var createsInode: Bool {
        switch self {
        case .mkfile, .mkdir, .mknod, .mkfifo, .mksock, .symlink: true
        default: false
        }
    }

    /// The name `btrfs receive --dump` prints, so messages match what administrators know.
    public var description: String {
        switch self {
        case .subvol: "subvol"
        case .snapshot: "snapshot"
        case .mkfile: "mkfile"
        case .mkdir: "mkdir"
        case .mknod: "mknod"
        case .mkfifo: "mkfifo"
        case .mksock: "mksock"
        case .symlink: "symlink"
        case .rename: "rename"
        case .link: "link"
        case .unlink: "unlink"
        case .rmdir: "rmdir"
        case .setXattr: "set_xattr"
        case .removeXattr: "remove_xattr"
        case .write: "write"
        case .clone: "clone"
        case .truncate: "truncate"
        case .chmod: "chmod"
        case .chown: "chown"
        case .utimes: "utimes"
        case .end: "end"
        case .updateExtent: "update_extent"
        case .fallocate: "fallocate"
        case .fileattr: "fileattr"
        case .encodedWrite: "encoded_write"
        }
    }
}

/// A send stream attribute (TLV) type (`enum btrfs_send_attr` in `fs/btrfs/send.h`).
///
/// 1–24 are v1, 25–31 v2, 32–35 the experimental v3 (fs-verity). The v3 numbers are known so
/// that a reader does not mistake them for corruption; Duet never writes them.
public enum SendAttributeType: UInt16, Sendable, CaseIterable, CustomStringConvertible {
    case uuid = 1
    case ctransid = 2
    case ino = 3
    case size = 4
    case mode = 5
    case uid = 6
    case gid = 7
    case rdev = 8
    case ctime = 9
    case mtime = 10
    case atime = 11
    case otime = 12
    case xattrName = 13
    case xattrData = 14
    case path = 15
    case pathTo = 16
    case pathLink = 17
    case fileOffset = 18
    /// File data. In v2 and later it has no length field: it is the last attribute and runs to
    /// the end of the command, so that a command can carry more than 64 KiB.
    case data = 19
    case cloneUUID = 20
    case cloneCtransid = 21
    case clonePath = 22
    case cloneOffset = 23
    case cloneLength = 24
    case fallocateMode = 25
    case fileattr = 26
    case unencodedFileLength = 27
    case unencodedLength = 28
    case unencodedOffset = 29
    case compression = 30
    case encryption = 31
    case verityAlgorithm = 32
    case verityBlockSize = 33
    case veritySaltData = 34
    case veritySigData = 35

    public var description: String {
        switch self {
        case .uuid: "uuid"
        case .ctransid: "ctransid"
        case .ino: "ino"
        case .size: "size"
        case .mode: "mode"
        case .uid: "uid"
        case .gid: "gid"
        case .rdev: "rdev"
        case .ctime: "ctime"
        case .mtime: "mtime"
        case .atime: "atime"
        case .otime: "otime"
        case .xattrName: "xattr_name"
        case .xattrData: "xattr_data"
        case .path: "path"
        case .pathTo: "path_to"
        case .pathLink: "path_link"
        case .fileOffset: "file_offset"
        case .data: "data"
        case .cloneUUID: "clone_uuid"
        case .cloneCtransid: "clone_ctransid"
        case .clonePath: "clone_path"
        case .cloneOffset: "clone_offset"
        case .cloneLength: "clone_len"
        case .fallocateMode: "fallocate_mode"
        case .fileattr: "fileattr"
        case .unencodedFileLength: "unencoded_file_len"
        case .unencodedLength: "unencoded_len"
        case .unencodedOffset: "unencoded_offset"
        case .compression: "compression"
        case .encryption: "encryption"
        case .verityAlgorithm: "verity_algorithm"
        case .verityBlockSize: "verity_block_size"
        case .veritySaltData: "verity_salt_data"
        case .veritySigData: "verity_sig_data"
        }
    }
}

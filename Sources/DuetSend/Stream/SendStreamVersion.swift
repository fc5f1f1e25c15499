/// The send stream protocol version in the stream header, with the size limits that go with it.
public enum SendStreamVersion: UInt32, Sendable, CaseIterable, Comparable {
    case v1 = 1
    case v2 = 2

    public static func < (lhs: Self, rhs: Self) -> Bool { lhs.rawValue < rhs.rawValue }

    /// `"btrfs-stream\0"`: the 13 bytes every stream starts with.
    public static let magic: [UInt8] = Array("btrfs-stream".utf8) + [0]

    /// Magic plus the le32 version.
    public static let headerSize = 17

    /// The largest whole command (header and payload) this version may carry, or nil for none.
    ///
    /// v1 receivers read each command into a fixed 64 KiB buffer (`BTRFS_SEND_BUF_SIZE_V1`) and
    /// older btrfs-progs reject a command that fills it completely, so we stay one byte below.
    /// v2 receivers grow their buffer to the command's length.
    public var maximumCommandSize: Int? {
        switch self {
        case .v1: 65_535
        case .v2: nil
        }
    }

    /// The most file data the kernel puts into one `WRITE` (`max_send_read_size()`):
    /// 48 KiB (`BTRFS_SEND_READ_SIZE`) for v1 and `BTRFS_SEND_BUF_SIZE_V2` − 16 KiB = 128 KiB for
    /// v2. Staying within these keeps our streams shaped like the kernel's, which receivers of
    /// every version have been tested with.
    public var maximumWriteDataLength: Int {
        switch self {
        case .v1: 48 * 1024
        case .v2: 128 * 1024
        }
    }
}

/// The data and metadata checksum algorithm of a btrfs file system (`btrfs_csum_type`).
public enum ChecksumType: UInt16, Sendable, CaseIterable, Codable {
    case crc32c = 0
    case xxhash64 = 1
    case sha256 = 2
    case blake2b = 3

    /// Bytes btrfs stores per checksum (`btrfs_csum_type_size`).
    public var size: Int {
        switch self {
        case .crc32c: 4
        case .xxhash64: 8
        case .sha256, .blake2b: 32
        }
    }

    /// The name `mkfs.btrfs --csum` and sysfs `checksum` use.
    public var name: String {
        switch self {
        case .crc32c: "crc32c"
        case .xxhash64: "xxhash64"
        case .sha256: "sha256"
        case .blake2b: "blake2b"
        }
    }

    /// The name `mkfs.btrfs --csum` accepts.
    public var mkfsName: String {
        switch self {
        case .crc32c: "crc32c"
        case .xxhash64: "xxhash"
        case .sha256: "sha256"
        case .blake2b: "blake2"
        }
    }
}

/// Block group and chunk type bits (`BTRFS_BLOCK_GROUP_*`): what a chunk holds and its profile.
public struct BlockGroupFlags: OptionSet, Hashable, Sendable {
    public let rawValue: UInt64
    public init(rawValue: UInt64) { self.rawValue = rawValue }

    public static let data = BlockGroupFlags(rawValue: 1 << 0)
    public static let system = BlockGroupFlags(rawValue: 1 << 1)
    public static let metadata = BlockGroupFlags(rawValue: 1 << 2)
    public static let raid0 = BlockGroupFlags(rawValue: 1 << 3)
    public static let raid1 = BlockGroupFlags(rawValue: 1 << 4)
    public static let dup = BlockGroupFlags(rawValue: 1 << 5)
    public static let raid10 = BlockGroupFlags(rawValue: 1 << 6)
    public static let raid5 = BlockGroupFlags(rawValue: 1 << 7)
    public static let raid6 = BlockGroupFlags(rawValue: 1 << 8)
    public static let raid1c3 = BlockGroupFlags(rawValue: 1 << 9)
    public static let raid1c4 = BlockGroupFlags(rawValue: 1 << 10)

    public static let typeMask: BlockGroupFlags = [.data, .system, .metadata]

    public var profile: Profile {
        if contains(.raid0) { return .raid0 }
        if contains(.raid1) { return .raid1 }
        if contains(.dup) { return .dup }
        if contains(.raid10) { return .raid10 }
        if contains(.raid5) { return .raid5 }
        if contains(.raid6) { return .raid6 }
        if contains(.raid1c3) { return .raid1c3 }
        if contains(.raid1c4) { return .raid1c4 }
        return .single
    }

    /// "Data", "Metadata", "System", or "Data+Metadata" for mixed block groups, as btrfs-progs prints them.
    public var typeName: String {
        var parts: [String] = []
        if contains(.data) { parts.append("Data") }
        if contains(.system) { parts.append("System") }
        if contains(.metadata) { parts.append("Metadata") }
        return parts.isEmpty ? "Unknown" : parts.joined(separator: "+")
    }
}

/// The replication profile of a chunk.
public enum Profile: String, Sendable, Codable, CaseIterable {
    case single, dup, raid0, raid1, raid10, raid5, raid6, raid1c3, raid1c4

    /// The name `mkfs.btrfs -d/-m` accepts and `btrfs filesystem df` prints (upper case there).
    public var name: String { rawValue }

    /// How many complete copies of every byte exist (parity profiles: 1 data copy).
    public var copies: Int {
        switch self {
        case .single, .raid0, .raid5, .raid6: 1
        case .dup, .raid1, .raid10: 2
        case .raid1c3: 3
        case .raid1c4: 4
        }
    }

    public var isParity: Bool { self == .raid5 || self == .raid6 }
}

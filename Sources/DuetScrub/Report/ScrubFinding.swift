import DuetFS

/// One confirmed error: where it is, on which copy, what kind, and which files it hurts.
public struct ScrubFinding: Sendable, Codable, Equatable {
    public enum Kind: String, Sendable, Codable {
        /// A data sector does not match its checksum.
        case dataChecksum = "csum"
        /// A tree block fails its checksum.
        case treeChecksum = "tree csum"
        /// A tree block's header does not belong here (bytenr, fsid, generation, level).
        case treeHeader = "verify"
        /// A superblock copy is damaged.
        case superblock = "super"
        /// The device returned an error.
        case read = "read"
    }

    public var kind: Kind
    public var deviceID: UInt64
    public var devicePath: String
    public var physical: UInt64
    /// 0 for superblocks, which live outside the logical address space.
    public var logical: UInt64
    public var mirror: Int
    public var length: UInt64
    /// Paths relative to the mount point, for data; the owning tree for tree blocks.
    public var affected: [String]
    public var detail: String
    /// Set after `--repair`: whether re-verification found the copy good.
    public var corrected: Bool?

    /// `length` is a byte count, named as every other one in the JSON (`lengthBytes`).
    enum CodingKeys: String, CodingKey {
        case kind, deviceID, devicePath, physical, logical, mirror, length = "lengthBytes", affected, detail, corrected
    }

    public var summary: String {
        var text = "\(kind.rawValue) error on devid \(deviceID) (\(devicePath)) physical \(physical)"
        if kind != .superblock { text += " logical \(logical) mirror \(mirror)" }
        text += ": \(detail)"
        if !affected.isEmpty { text += "; affects \(affected.joined(separator: ", "))" }
        if let corrected { text += corrected ? " [corrected]" : " [uncorrectable]" }
        return text
    }
}

import DuetFS

/// Verifies a tree block read from a device (step 4): header checksum over `[32, nodesize)`,
/// `bytenr` equal to where it was found, the metadata UUID, a generation not newer than the
/// committed one, and the level the extent tree recorded.
public struct TreeBlockCheck: Sendable {
    public let checksummer: Checksummer
    public let metadataUUID: [UInt8]
    public let nodeSize: Int

    public init(info: FileSystemInfo) {
        checksummer = Checksummer(info.checksumType)
        metadataUUID = info.metadataUUID.bytes
        nodeSize = Int(info.nodeSize)
    }

    /// nil when the block is good, else what is wrong and the finding kind.
    public func problem(_ block: UnsafeRawBufferPointer, logical: UInt64, level: UInt8, maximumGeneration: UInt64) -> (
        ScrubFinding.Kind, String
    )? {
        guard block.count >= nodeSize, nodeSize >= TreeBlockHeader.size, let header = try? TreeBlockHeader(block) else {
            return (.treeHeader, "short block")
        }
        let checksumEnd = TreeBlockHeader.checksumSize
        let covered = UnsafeRawBufferPointer(rebasing: block[checksumEnd..<nodeSize])
        if !header.checksum.withUnsafeBytes({ checksummer.matches(covered, expected: $0) }) {
            return (.treeChecksum, "tree block checksum mismatch")
        }
        if header.bytenr != logical { return (.treeHeader, "header bytenr \(header.bytenr), expected \(logical)") }
        if header.fsid != metadataUUID { return (.treeHeader, "header fsid does not match the file system") }
        if header.generation > maximumGeneration {
            return (.treeHeader, "header generation \(header.generation) newer than committed \(maximumGeneration)")
        }
        if header.owner == 0 { return (.treeHeader, "header owner 0") }
        if header.level != level { return (.treeHeader, "header level \(header.level), extent tree says \(level)") }
        return nil
    }
}

/// Verifies the superblock copies of a device: magic, checksum over `[32, 4096)`, fsid and
/// the copy's own offset.
public struct SuperblockCheck: Sendable {
    public static let offsets = Superblock.copyOffsets
    public static let size = Superblock.size

    public let checksummer: Checksummer
    public let fsid: [UInt8]

    public init(info: FileSystemInfo) {
        checksummer = Checksummer(info.checksumType)
        fsid = info.fsid.bytes
    }

    /// The copies that fit on a device of `size` bytes.
    public static func copies(deviceSize: UInt64) -> [UInt64] {
        offsets.filter { $0 + UInt64(size) <= deviceSize }
    }

    public func problem(_ block: [UInt8], offset: UInt64) -> String? {
        guard let superblock = try? Superblock(bytes: block) else { return "short read" }
        guard superblock.hasMagic else { return "bad magic" }
        let ok = block.withUnsafeBytes { raw in
            superblock.checksum.withUnsafeBytes {
                checksummer.matches(UnsafeRawBufferPointer(rebasing: raw[Superblock.checksumSize..<Self.size]), expected: $0)
            }
        }
        if !ok { return "superblock checksum mismatch" }
        guard superblock.fsid == fsid else { return "superblock fsid does not match" }
        guard superblock.bytenr == offset else { return "superblock bytenr \(superblock.bytenr), expected \(offset)" }
        return nil
    }
}

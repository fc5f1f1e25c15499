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
    public func problem(_ block: UnsafeRawBufferPointer, logical: UInt64, level: UInt8, maximumGeneration: UInt64) -> (ScrubFinding.Kind, String)? {
        guard block.count >= nodeSize else { return (.treeHeader, "short block") }
        let covered = UnsafeRawBufferPointer(rebasing: block[32..<nodeSize])
        if !checksummer.matches(covered, expected: UnsafeRawBufferPointer(rebasing: block[0..<32])) {
            return (.treeChecksum, "tree block checksum mismatch")
        }
        let bytenr = block.loadUnaligned(fromByteOffset: 48, as: UInt64.self).littleEndian
        if bytenr != logical { return (.treeHeader, "header bytenr \(bytenr), expected \(logical)") }
        if !metadataUUID.elementsEqual(block[32..<48]) { return (.treeHeader, "header fsid does not match the file system") }
        let generation = block.loadUnaligned(fromByteOffset: 80, as: UInt64.self).littleEndian
        if generation > maximumGeneration { return (.treeHeader, "header generation \(generation) newer than committed \(maximumGeneration)") }
        let owner = block.loadUnaligned(fromByteOffset: 88, as: UInt64.self).littleEndian
        if owner == 0 { return (.treeHeader, "header owner 0") }
        let headerLevel = block[100]
        if headerLevel != level { return (.treeHeader, "header level \(headerLevel), extent tree says \(level)") }
        return nil
    }
}

/// Verifies the superblock copies of a device: magic, checksum over `[32, 4096)`, fsid and
/// the copy's own offset.
public struct SuperblockCheck: Sendable {
    /// Copy offsets: 64 KiB, 64 MiB, 256 GiB (`btrfs_sb_offset`).
    public static let offsets: [UInt64] = [64 << 10, 64 << 20, 256 << 30]
    public static let size = 4096
    static let magic = Array("_BHRfS_M".utf8)

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
        guard block.count >= Self.size else { return "short read" }
        guard Array(block[64..<72]) == Self.magic else { return "bad magic" }
        let ok = block.withUnsafeBytes { raw in
            checksummer.matches(UnsafeRawBufferPointer(rebasing: raw[32..<Self.size]), expected: UnsafeRawBufferPointer(rebasing: raw[0..<32]))
        }
        if !ok { return "superblock checksum mismatch" }
        guard Array(block[32..<48]) == fsid else { return "superblock fsid does not match" }
        let bytenr = block.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: 48, as: UInt64.self).littleEndian }
        guard bytenr == offset else { return "superblock bytenr \(bytenr), expected \(offset)" }
        return nil
    }
}

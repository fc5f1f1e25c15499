import DuetFS

/// `--repair` (step 5): hands each device extent that holds a bad copy to the kernel scrub,
/// which rewrites it from a good mirror, then verifies that copy again from the device.
public struct Repairer: Sendable {
    public let fileSystem: FileSystem
    public let info: FileSystemInfo

    public init(fileSystem: FileSystem) throws {
        self.fileSystem = fileSystem
        info = try fileSystem.info()
    }

    /// Returns the findings with `corrected` set.
    public func repair(_ findings: [ScrubFinding]) throws -> [ScrubFinding] {
        let map = try ChunkMap.load(from: fileSystem)
        var extents: Set<DeviceExtentKey> = []
        for finding in findings where finding.kind != .superblock && finding.logical != 0 {
            guard let chunk = map.chunk(containing: finding.logical),
                let stripe = chunk.stripes.first(where: {
                    $0.deviceID == finding.deviceID && $0.offset <= finding.physical
                        && finding.physical < $0.offset + Self.stripeSpan(chunk)
                })
            else { continue }
            extents.insert(DeviceExtentKey(deviceID: finding.deviceID, physical: stripe.offset, length: Self.stripeSpan(chunk)))
        }
        for extent in extents.sorted(by: { ($0.deviceID, $0.physical) < ($1.deviceID, $1.physical) }) {
            _ = try fileSystem.kernelScrub(
                deviceID: extent.deviceID, physical: extent.physical..<(extent.physical + extent.length), readOnly: false)
        }
        let devices = Dictionary(uniqueKeysWithValues: try fileSystem.devices().map { ($0.id, $0.path) })
        return try findings.map { finding in
            var result = finding
            result.corrected = try isGoodNow(finding, devicePath: devices[finding.deviceID] ?? finding.devicePath)
            return result
        }
    }

    /// The bytes of a chunk on one of its stripes (its device extent's length).
    static func stripeSpan(_ chunk: ChunkItem) -> UInt64 {
        switch chunk.flags.profile {
        case .raid0: return chunk.length / UInt64(chunk.stripes.count)
        case .raid10: return chunk.length / UInt64(chunk.stripes.count / max(Int(chunk.subStripes), 1))
        case .raid5: return chunk.length / UInt64(max(chunk.stripes.count - 1, 1))
        case .raid6: return chunk.length / UInt64(max(chunk.stripes.count - 2, 1))
        default: return chunk.length
        }
    }

    private func isGoodNow(_ finding: ScrubFinding, devicePath: String) throws -> Bool {
        let reader = try DeviceReader(path: devicePath)
        switch finding.kind {
        case .dataChecksum, .read:
            guard let expected = try CsumLookup.fresh(fileSystem: fileSystem, info: info, logical: finding.logical) else { return true }
            let sector = try reader.read(offset: finding.physical, length: Int(info.sectorSize))
            return Checksummer(info.checksumType).digest(sector) == expected
        case .treeChecksum, .treeHeader:
            let block = try reader.read(offset: finding.physical, length: Int(info.nodeSize))
            let generation = try fileSystem.info().generation
            let check = TreeBlockCheck(info: info)
            return block.withUnsafeBytes { raw in
                // The level is not part of the finding; take it from the block itself once the checksum holds.
                check.problem(raw, logical: finding.logical, level: raw[100], maximumGeneration: generation) == nil
            }
        case .superblock:
            return false
        }
    }

    struct DeviceExtentKey: Hashable {
        var deviceID: UInt64
        var physical: UInt64
        var length: UInt64
    }
}

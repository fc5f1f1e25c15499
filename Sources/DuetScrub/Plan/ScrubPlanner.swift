import DuetFS

/// Builds the plan (step 1): sync, record the committed generation, and list every device's extents.
/// The pieces inside each device extent are listed lazily by `pieces(in:)`, so memory stays
/// bounded by one chunk's extents however large the file system.
public struct ScrubPlanner: Sendable {
    public let fileSystem: FileSystem
    public let info: FileSystemInfo
    public let chunkMap: ChunkMap
    /// The newest generation known to be on disk: extents of later transactions are left out.
    public let committedGeneration: UInt64

    public init(fileSystem: FileSystem) throws {
        self.fileSystem = fileSystem
        // The full sync writes delayed data (so planned data has its checksums); the commit
        // after it names a generation that is on disk even while other writers start new ones.
        try fileSystem.sync()
        committedGeneration = try fileSystem.commitGeneration()
        info = try fileSystem.info()
        chunkMap = try ChunkMap.load(from: fileSystem)
    }

    public func plan() throws -> ScrubPlan {
        var devices: [ScrubPlan.DevicePlan] = []
        var parity: [UInt64: ChunkItem] = [:]
        for device in try fileSystem.devices() {
            var work: [ScrubPlan.DeviceExtentWork] = []
            try fileSystem.items(tree: TreeID.dev, type: ItemType.devExtent, objectIDs: device.id...device.id).forEach { item in
                let extent = try DevExtent(key: item.key, bytes: item.data)
                guard let chunk = chunkMap.chunk(containing: extent.chunkOffset), chunk.logical == extent.chunkOffset else {
                    throw DuetError.malformed(
                        "device \(device.path): dev extent at \(extent.physical) names chunk \(extent.chunkOffset), which the chunk tree lacks"
                    )
                }
                if chunk.flags.profile.isParity {
                    parity[chunk.logical] = chunk
                    return
                }
                let mirror = chunk.stripes.firstIndex { $0.deviceID == device.id && $0.offset == extent.physical }.map { $0 + 1 } ?? 1
                work.append(.init(devExtent: extent, chunk: chunk, mirror: mirror))
            }
            devices.append(.init(device: device, extents: work.sorted { $0.devExtent.physical < $1.devExtent.physical }))
        }
        return ScrubPlan(generation: committedGeneration, devices: devices, parityChunks: parity.values.sorted { $0.logical < $1.logical })
    }

    /// The allocated data extents and tree blocks of `work`'s chunk that lie on this device
    /// extent, as physical pieces in physical order. Extents newer than `generation` are left
    /// for the next run: they may not be on disk yet.
    public func pieces(in work: ScrubPlan.DeviceExtentWork, generation: UInt64) throws -> [ScrubPiece] {
        let chunk = work.chunk
        let device = work.devExtent.deviceID
        let physicalRange = work.devExtent.physical..<(work.devExtent.physical + work.devExtent.length)
        let singleCopy = chunk.flags.profile.copies == 1
        var pieces: [ScrubPiece] = []
        let end = chunk.logical + chunk.length - 1
        try fileSystem.search(
            tree: TreeID.extent, from: BtrfsKey(chunk.logical, ItemType.extentItem, 0),
            to: BtrfsKey(end, ItemType.metadataItem, .max),
            types: [ItemType.extentItem, ItemType.metadataItem]
        ).forEach { item in
            let extent = try ExtentItem(key: item.key, bytes: item.data, nodeSize: UInt64(info.nodeSize))
            guard extent.generation <= generation else { return }
            let kind: ScrubPiece.Kind = extent.isTreeBlock ? .treeBlock : .data
            let logicalRange = extent.bytenr..<min(extent.bytenr + extent.length, chunk.logical + chunk.length)
            let mappings: [ChunkMap.Mapping]
            do {
                mappings = try chunkMap.map(range: logicalRange)
            } catch {
                throw DuetError.malformed("extent at logical \(extent.bytenr): \(error)")
            }
            var logical = logicalRange.lowerBound
            for mapping in mappings {
                for copy in mapping.copies where copy.deviceID == device && physicalRange.contains(copy.physical) {
                    pieces.append(
                        ScrubPiece(
                            kind: kind, logical: logical, physical: copy.physical, length: mapping.contiguousLength,
                            mirror: work.mirror, generation: extent.generation, level: extent.level ?? 0,
                            singleCopy: singleCopy && kind == .data))
                }
                logical += mapping.contiguousLength
            }
        }
        return pieces.sorted { $0.physical < $1.physical }
    }
}

import DuetFS

/// What one scrub pass covers: the file system generation it was planned at, and for every
/// device the device extents to read in physical order.
public struct ScrubPlan: Sendable {
    public var generation: UInt64
    public var devices: [DevicePlan]
    /// Block groups with parity profiles, handed whole to the kernel scrub.
    public var parityChunks: [ChunkItem]

    public struct DevicePlan: Sendable {
        public var device: DeviceInfo
        /// Device extents in physical order, each with the chunk it belongs to.
        public var extents: [DeviceExtentWork]
    }

    public struct DeviceExtentWork: Sendable {
        public var devExtent: DevExtent
        public var chunk: ChunkItem
        /// The mirror number this device extent holds (1-based), for reports.
        public var mirror: Int
    }
}

/// One piece of allocated space on one device: a run of data sectors or one tree block.
public struct ScrubPiece: Sendable, Equatable {
    public enum Kind: String, Sendable, Codable {
        case data
        case treeBlock = "tree block"
        case superblock
    }

    public var kind: Kind
    public var logical: UInt64
    public var physical: UInt64
    public var length: UInt64
    public var mirror: Int
    /// The extent generation it was planned with (checked again before an error is reported).
    public var generation: UInt64
    /// Tree level (tree blocks).
    public var level: UInt8
    /// Whether a read by the foreground can have verified this piece: only single-copy data.
    public var singleCopy: Bool
}

/// A device read: consecutive physical bytes covering one or more pieces (gaps are read and ignored).
public struct ReadRequest: Sendable {
    public var deviceID: UInt64
    public var physical: UInt64
    public var length: Int
    public var pieces: [ScrubPiece]
}

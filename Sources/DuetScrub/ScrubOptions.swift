import Foundation

/// How a scrub runs.
public struct ScrubOptions: Sendable {
    /// Skip nothing: verify every copy of everything.
    public var full = false
    /// Only credits newer than this (seconds since the epoch) may be skipped.
    public var creditsSince: UInt64 = 0
    /// Bytes per second read from all devices together; 0 is unlimited.
    public var bandwidthLimit: UInt64 = 0
    /// Back off while a device serves foreground I/O.
    public var idle = false
    /// With `idle`: wait for idle devices only while the scrub can still finish by then.
    public var deadline: Date?
    /// Bytes read but not yet verified, across devices.
    public var maximumInFlight = 64 << 20
    public var coalescer = ReadCoalescer()
    /// Verify the superblock copies of each device.
    public var superblocks = true

    public init() {}
}

/// Byte and error counts of a scrub, in the units `btrfs scrub status` uses.
public struct ScrubCounters: Sendable, Codable, Equatable {
    /// Data bytes checked against their checksums (each copy counted).
    public var dataVerified: UInt64 = 0
    /// Tree-block bytes checked.
    public var treeVerified: UInt64 = 0
    /// Data bytes that have no checksum (nodatasum, preallocated).
    public var dataWithoutChecksum: UInt64 = 0
    /// Single-copy data bytes skipped because a foreground read or earlier scrub verified them.
    public var skippedVerified: UInt64 = 0
    /// Bytes read from the devices (including gaps read to coalesce).
    public var deviceBytesRead: UInt64 = 0
    public var superblocksVerified: UInt64 = 0
    /// Bad data sectors.
    public var dataErrors: UInt64 = 0
    /// Sectors of bad tree blocks (a bad 16 KiB block counts 4, as in `btrfs scrub`).
    public var treeErrors: UInt64 = 0
    public var superblockErrors: UInt64 = 0
    public var readErrors: UInt64 = 0
    /// Mismatches that did not persist on confirmation (the file system changed under us).
    public var unconfirmed: UInt64 = 0
    /// Bytes of RAID5/6 block groups verified by the kernel scrub on Duet's behalf.
    public var parityKernelScrubbed: UInt64 = 0

    public init() {}

    /// The names in `scrub.json` and `--json`: byte counts end in `Bytes`, error and superblock
    /// counts are plain counts (the README's JSON reference).
    enum CodingKeys: String, CodingKey {
        case dataVerified = "dataVerifiedBytes", treeVerified = "treeVerifiedBytes"
        case dataWithoutChecksum = "dataWithoutChecksumBytes", skippedVerified = "skippedVerifiedBytes"
        case deviceBytesRead = "deviceReadBytes", superblocksVerified
        case dataErrors, treeErrors, superblockErrors, readErrors, unconfirmed
        case parityKernelScrubbed = "parityKernelScrubbedBytes"
    }

    public var errors: UInt64 { dataErrors + treeErrors + superblockErrors + readErrors }
    public var verified: UInt64 { dataVerified + treeVerified }

    public mutating func add(_ other: ScrubCounters) {
        dataVerified += other.dataVerified
        treeVerified += other.treeVerified
        dataWithoutChecksum += other.dataWithoutChecksum
        skippedVerified += other.skippedVerified
        deviceBytesRead += other.deviceBytesRead
        superblocksVerified += other.superblocksVerified
        dataErrors += other.dataErrors
        treeErrors += other.treeErrors
        superblockErrors += other.superblockErrors
        readErrors += other.readErrors
        unconfirmed += other.unconfirmed
        parityKernelScrubbed += other.parityKernelScrubbed
    }
}

import CDuet
import Glibc

/// What the kernel scrub reports for one run (`btrfs_scrub_progress`).
public struct KernelScrubProgress: Sendable, Equatable {
    public var dataBytesScrubbed: UInt64
    public var treeBytesScrubbed: UInt64
    public var readErrors: UInt64
    public var checksumErrors: UInt64
    public var verifyErrors: UInt64
    public var correctedErrors: UInt64
    public var uncorrectableErrors: UInt64
    public var lastPhysical: UInt64
}

extension FileSystem {
    /// `BTRFS_IOC_SCRUB` over the device extents of `deviceID` that overlap `physical` (the kernel
    /// scrubs whole device extents). Without `readOnly` the kernel rewrites bad copies from good
    /// mirrors. Blocks until the kernel finishes.
    public func kernelScrub(deviceID: UInt64, physical: Range<UInt64>, readOnly: Bool) throws -> KernelScrubProgress {
        var args = btrfs_ioctl_scrub_args()
        args.devid = deviceID
        args.start = physical.lowerBound
        args.end = physical.upperBound - 1
        args.flags = readOnly ? UInt64(BTRFS_SCRUB_READONLY) : 0
        try ioctl("BTRFS_IOC_SCRUB (devid \(deviceID), physical \(physical.lowerBound))", duet_ioc_scrub(), &args)
        let p = args.progress
        return KernelScrubProgress(
            dataBytesScrubbed: p.data_bytes_scrubbed, treeBytesScrubbed: p.tree_bytes_scrubbed,
            readErrors: p.read_errors, checksumErrors: p.csum_errors, verifyErrors: p.verify_errors,
            correctedErrors: p.corrected_errors, uncorrectableErrors: p.uncorrectable_errors,
            lastPhysical: p.last_physical)
    }
}

import DuetFS
import Foundation

/// Turns the snapshot data `duet send` read from disk into ledger credits, so a `duet scrub`
/// after the send skips it (the original Duet's send-then-scrub saving). The send drops these
/// pages right after reading them, faster than `duet watch`'s settle window, so the watcher
/// cannot credit them; the send knows exactly what it read and credits it itself.
///
/// The credit rule holds: the send read the snapshot's files through the page cache and every
/// read succeeded, so btrfs verified each sector that has a checksum; a snapshot is read-only, so
/// no page came from a write. What is credited:
/// - only sectors the csum tree has a checksum for (nodatasum data was not verified);
/// - only single-copy chunks (a read of DUP/RAID1/RAID10 data verified one unknown mirror);
/// - only uncompressed extents (for a compressed one, each read verified the whole disk extent,
///   but a piece covers only part of what the file maps to it; the watcher handles those);
/// - with the generation the extent tree has for the extent now (the lookup also drops a range
///   whose extent is gone).
public struct DiskReadCredits {
    /// Logical ranges read from disk.
    public private(set) var ranges = ExtentSet()

    public init() {}

    public mutating func add(logical: Range<UInt64>) {
        guard !logical.isEmpty else { return }
        ranges.insert(logical)
    }

    /// What `record` credited.
    public struct Outcome: Sendable, Equatable {
        public var bytesCredited: UInt64 = 0
        /// Read, but in a chunk with more than one copy (or parity).
        public var bytesMultipleCopies: UInt64 = 0
        /// Read, but with no checksum (nodatasum) or no extent any more.
        public var bytesUnverifiable: UInt64 = 0
        /// The credits went to the inbox because `duet watch` holds the ledger.
        public var submittedToInbox = false
    }

    /// Credits every verifiable range through `recorder` and flushes it.
    public func record(fileSystem: FileSystem, checksums: ChecksumIndex, recorder: LedgerRecorder) throws -> Outcome {
        var outcome = Outcome(submittedToInbox: recorder.submitsToInbox)
        let profiles = try ChunkProfiles(fileSystem: fileSystem)
        let generations = ExtentTreeGenerationLookup(fileSystem: fileSystem, nodeSize: UInt64(checksums.info.nodeSize))
        let sector = checksums.sectorSize
        let time = UInt64(Date().timeIntervalSince1970)
        for range in ranges {
            guard let profile = profiles.profile(at: range.lowerBound), profile.copies == 1, !profile.isParity else {
                outcome.bytesMultipleCopies += UInt64(range.count)
                continue
            }
            // Whole sectors only: a piece ending at end of file ends mid-sector.
            let aligned = (range.lowerBound + sector - 1) / sector * sector..<range.upperBound / sector * sector
            guard !aligned.isEmpty else { continue }
            var credited: UInt64 = 0
            for run in try Self.checksummedRuns(of: aligned, checksums: checksums) {
                for extent in try generations.extents(overlapping: run) {
                    let part = max(extent.range.lowerBound, run.lowerBound)..<min(extent.range.upperBound, run.upperBound)
                    guard !part.isEmpty else { continue }
                    recorder.credit(range: part, generation: extent.generation, time: time)
                    credited += UInt64(part.count)
                }
            }
            outcome.bytesCredited += credited
            outcome.bytesUnverifiable += UInt64(aligned.count) - credited
        }
        try recorder.flush()
        return outcome
    }

    /// The runs of sectors of `range` that have a checksum, looked up in windows so one huge
    /// read does not build one huge array.
    private static func checksummedRuns(of range: Range<UInt64>, checksums: ChecksumIndex) throws -> ExtentSet {
        let sector = checksums.sectorSize
        let window: UInt64 = 64 << 20
        var runs = ExtentSet()
        var start = range.lowerBound
        while start < range.upperBound {
            let end = min(start + window, range.upperBound)
            for (index, stored) in try checksums.checksums(of: start..<end).enumerated() where stored != nil {
                let at = start + UInt64(index) * sector
                runs.insert(at..<(at + sector))
            }
            start = end
        }
        return runs
    }
}

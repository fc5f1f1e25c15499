/// What a second look at a mismatch found, and what the scrub reports for it. Kept apart from
/// the reads so the rule is testable: only a mismatch the file system explains away (the extent
/// moved on) is dropped; a confirmation that cannot finish never clears one.
public enum Confirmation: Sendable {
    /// The extent was freed or rewritten, or the copy now reads good: the first read raced the
    /// live file system.
    case cleared
    /// Still bad; the problem as the second look saw it.
    case persists(ScrubFinding.Kind, String)
    /// The device failed the re-read. That range fails reads now, whatever the first read saw,
    /// so it is a read error of the device, as a failed first read is.
    case unreadable(any Error)
    /// A look-up the confirmation needs (extent or csum tree) failed: the mismatch stands.
    case failed(any Error)

    /// The finding to report (nil when cleared) and the counts it adds. `sectors` is the size of
    /// the checked copy in sectors: a bad tree block counts each, as the kernel scrub does.
    public func verdict(firstSeen kind: ScrubFinding.Kind, _ detail: String, sectors: UInt64)
        -> (finding: (kind: ScrubFinding.Kind, detail: String)?, counters: ScrubCounters)
    {
        var counters = ScrubCounters()
        let finding: (kind: ScrubFinding.Kind, detail: String)
        switch self {
        case .cleared:
            counters.unconfirmed += 1
            return (nil, counters)
        case .persists(let kind, let detail): finding = (kind, detail)
        case .unreadable(let error): finding = (.read, "\(detail); re-reading it to confirm failed: \(error)")
        case .failed(let error): finding = (kind, "\(detail); confirming it failed: \(error)")
        }
        switch finding.kind {
        case .dataChecksum: counters.dataErrors += sectors
        case .treeChecksum, .treeHeader: counters.treeErrors += sectors
        case .superblock: counters.superblockErrors += 1
        case .read: counters.readErrors += 1
        }
        return (finding, counters)
    }
}

/// Where a done-set range lives: one file's page indexes, one subvolume's inode numbers, or the
/// file system's logical byte addresses (see `HubKeySpace`).
public struct DoneDomain: Hashable, Sendable {
    public var root: UInt64
    public var inode: UInt64
    private var kind: UInt8

    public static func file(root: UInt64, inode: UInt64) -> DoneDomain { DoneDomain(root: root, inode: inode, kind: 0) }
    public static func subvolume(_ root: UInt64) -> DoneDomain { DoneDomain(root: root, inode: 0, kind: 1) }
    public static let logical = DoneDomain(root: 0, inode: 0, kind: 2)
}

/// A task's record of finished work: `UInt64` ranges per domain, as compact range lists, so a
/// task that finishes a whole 128 MiB extent or a whole file pays for one range, not one bit per page.
public struct DoneSet: Sendable {
    private var sets: [DoneDomain: ExtentSet] = [:]

    public init() {}

    public mutating func markDone(_ range: Range<UInt64>, in domain: DoneDomain) {
        sets[domain, default: ExtentSet()].insert(range)
    }

    public mutating func markUndone(_ range: Range<UInt64>, in domain: DoneDomain) {
        guard var set = sets[domain] else { return }
        set.remove(range)
        sets[domain] = set.isEmpty ? nil : set
    }

    /// Whether all of `range` is done.
    public func isDone(_ range: Range<UInt64>, in domain: DoneDomain) -> Bool {
        sets[domain]?.containsAll(range) ?? range.isEmpty
    }

    /// Whether any of `range` is done.
    public func isAnyDone(_ range: Range<UInt64>, in domain: DoneDomain) -> Bool {
        sets[domain]?.intersects(range) ?? false
    }

    /// The parts of `range` not done yet.
    public func undone(_ range: Range<UInt64>, in domain: DoneDomain) -> [Range<UInt64>] {
        guard let set = sets[domain] else { return range.isEmpty ? [] : [range] }
        return set.gaps(in: range)
    }

    public func set(in domain: DoneDomain) -> ExtentSet { sets[domain] ?? ExtentSet() }

    public var isEmpty: Bool { sets.isEmpty }

    /// Ranges held over all domains: the memory the done-set occupies.
    public var rangeCount: Int { sets.values.reduce(0) { $0 + $1.rangeCount } }
}

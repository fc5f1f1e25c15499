/// The page size events are counted in. btrfs on x86-64 and arm64 (4 KiB pages) only.
public let pageSize: UInt64 = 4096

/// One page-cache event with the identity btrfs needs: inode numbers repeat across
/// subvolumes and snapshots, so an event without its root id cannot be attributed.
public struct CacheEvent: Hashable, Sendable {
    public enum Kind: UInt8, Sendable, CaseIterable, Codable {
        /// Pages entered the page cache (read from disk, or created for a write).
        case added = 1
        /// Pages left the page cache (reclaim, fadvise, truncate, unlink, drop_caches).
        case removed = 2
        /// A clean page became dirty.
        case dirtied = 3
        /// Writeback of a page started.
        case writebackStarted = 4
        /// Writeback of a file range finished (btrfs ordered extent completed).
        case writebackFinished = 5
        /// btrfs wrote a file range to a new logical address (`logical` is set).
        case extentWritten = 6
    }

    public var kind: Kind
    /// The superblock device (`s_dev`) the kernel reported; map it to a file system with `MountTable`.
    public var device: UInt32
    /// The btrfs root (subvolume) id; 0 when the source cannot tell.
    public var root: UInt64
    public var inode: UInt64
    /// First page index; a large folio of order n covers `pageCount = 1 << n` pages.
    public var firstPage: UInt64
    public var pageCount: UInt64
    /// For `.extentWritten`: the logical byte address the file range at `firstPage` now maps to.
    public var logical: UInt64

    public init(kind: Kind, device: UInt32, root: UInt64, inode: UInt64, firstPage: UInt64, pageCount: UInt64, logical: UInt64 = 0) {
        self.kind = kind
        self.device = device
        self.root = root
        self.inode = inode
        self.firstPage = firstPage
        self.pageCount = pageCount
        self.logical = logical
    }

    /// The btree inode: its page index times the page size is a metadata logical address.
    public static let btreeInode: UInt64 = 1

    /// The event counted per page, as a source without merging would report it: its pages for a
    /// page-cache event, 1 for a range event (writeback finished, extent written).
    public var pageEventCount: UInt64 {
        switch kind {
        case .added, .removed, .dirtied, .writebackStarted: pageCount
        case .writebackFinished, .extentWritten: 1
        }
    }
}

/// Counters every source keeps, so that losses are never silent.
public struct EventSourceStatistics: Sendable, Equatable, Codable {
    public var delivered: UInt64 = 0
    /// Records the source knows it could not deliver (ring buffer full, trace overrun).
    public var lost: UInt64 = 0

    public init(delivered: UInt64 = 0, lost: UInt64 = 0) {
        self.delivered = delivered
        self.lost = lost
    }
}

/// Where events come from: eBPF, the kernel patch's `/dev/duet`, cachestat sweeps, or a recording.
/// `start` delivers batches on a thread of the source's own until `stop`; a source is started once.
public protocol EventSource: AnyObject, Sendable {
    var name: String { get }
    func start(deliver: @escaping @Sendable ([CacheEvent]) -> Void) throws
    func stop()
    var statistics: EventSourceStatistics { get }
}

/// What `HubTask.fetch` hands out: a run of contiguous pages of one file, all with the same
/// pending kinds. The hub keeps at most one pending state per page, so a page appears in at
/// most one item per fetch.
public struct HubItem: Hashable, Sendable, CustomStringConvertible {
    public var root: UInt64
    public var inode: UInt64
    public var firstPage: UInt64
    public var pageCount: UInt64
    /// Event-based model: every kind seen since the last fetch. State-based: the net change.
    public var kinds: CacheEventKinds

    public init(root: UInt64, inode: UInt64, firstPage: UInt64, pageCount: UInt64, kinds: CacheEventKinds) {
        self.root = root
        self.inode = inode
        self.firstPage = firstPage
        self.pageCount = pageCount
        self.kinds = kinds
    }

    public var pages: Range<UInt64> { firstPage..<firstPage + pageCount }

    public var description: String { "root \(root) inode \(inode) pages \(firstPage)..<\(firstPage + pageCount) \(kinds)" }
}

/// One file of one subvolume: inode numbers repeat across subvolumes and snapshots.
public struct InodeKey: Hashable, Sendable {
    public var root: UInt64
    public var inode: UInt64

    public init(root: UInt64, inode: UInt64) {
        self.root = root
        self.inode = inode
    }
}

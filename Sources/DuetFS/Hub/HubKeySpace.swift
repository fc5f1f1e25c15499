/// What a task's done-set is keyed by, after the original's file tasks and block tasks.
public enum HubKeySpace: Sendable {
    /// Page indexes per file: `DoneDomain.file(root:inode:)`, values are page indexes.
    /// For tasks that work file by file on file offsets.
    case pages
    /// Inode numbers per subvolume: `DoneDomain.subvolume(root)`, values are inode numbers.
    /// For file tasks (the original's defrag and rsync) that finish whole files.
    case inodes
    /// Logical byte addresses: `DoneDomain.logical`. For block tasks (scrub, send) whose work
    /// is extents, shared by every file and snapshot that maps them; `mapper` translates an
    /// event's pages to the logical ranges they occupy.
    case logical(any PageToLogicalMapper)

    /// The domain a done-set lookup for `key` uses in this key space.
    func domain(for key: InodeKey) -> DoneDomain {
        switch self {
        case .pages: .file(root: key.root, inode: key.inode)
        case .inodes: .subvolume(key.root)
        case .logical: .logical
        }
    }
}

/// Translates a file's pages to the logical byte ranges that hold them. The btrfs layer implements
/// it from file-extent items (cached per inode, invalidated by dirty and writeback events); pages of
/// the btree inode (`CacheEvent.btreeInode`) are tree blocks at `page * pageSize`.
///
/// Called with the task's lock held, on the thread that ingests or fetches: it must answer from a
/// cache and not block on I/O.
public protocol PageToLogicalMapper: Sendable {
    /// The logical ranges holding pages `firstPage ..< firstPage + pageCount` of the file, or nil when
    /// they have none the mapper can name (a hole, inline data, delalloc, prealloc, an unknown inode).
    /// A compressed extent is named whole: its pages cannot be verified apart from each other.
    func logicalRanges(root: UInt64, inode: UInt64, firstPage: UInt64, pageCount: UInt64) -> [Range<UInt64>]?
}

import Synchronization

/// What the creditor needs from a mapper: a file's pages as segments, and cache invalidation.
/// `FileExtentMapper` implements it against a mounted file system; unit tests use a fixed table.
public protocol FileExtentResolving: Sendable {
    /// The segments of `pages` of `(root, inode)`, and whether the file's data has checksums.
    func segments(root: UInt64, inode: UInt64, pages: Range<UInt64>) throws -> (segments: [FileExtentMap.Segment], checksummed: Bool)
    func invalidate(root: UInt64, inode: UInt64)
}

/// `(root, inode, pages)` → logical byte ranges, through the `EXTENT_DATA` items of the inode in
/// that root's tree (`BTRFS_IOC_TREE_SEARCH_V2`), cached per `(root, inode)`.
///
/// Cost. A cache hit is a dictionary lookup and a binary search, under a lock held only for that.
/// A miss does I/O: one `TREE_SEARCH_V2` over the keys `(ino, INODE_ITEM, 0) … (ino, EXTENT_DATA,
/// max)` (the inode item gives the NODATASUM flag), which for files of up to ~1000 extents is one
/// ioctl of a 64 KiB buffer (tens of µs when the leaves are cached, a metadata read when not). The
/// load is bounded: at most `maximumExtentsPerInode` items are kept; a file with more is answered by
/// a windowed search around the asked pages and not cached. The cache keeps at most
/// `maximumCachedExtents` items over all inodes and drops least recently used inodes past that.
///
/// The hub calls `logicalRanges` under a task lock: that is the same code path, so a miss there
/// costs one ioctl. A caller that cannot afford even that calls `prefetch` from its own thread first
/// (the creditor does), or `cachedLogicalRanges`, which never does I/O.
///
/// Invalidation. Items change when data is written (delalloc becomes an extent at writeback),
/// truncated, punched or cloned over. Call `invalidate(root:inode:)` or `invalidate(touchedBy:)` with
/// every event batch: `.dirtied`, `.writebackFinished`, `.extentWritten` and `.removed` (truncate,
/// punch and clone drop the pages they affect) invalidate their inode.
///
/// Inode 1 (the btree inode, any root) maps to the node-size tree block around each page.
public final class FileExtentMapper: PageToLogicalMapper, FileExtentResolving, Sendable {
    public struct Options: Sendable {
        public var maximumExtentsPerInode: Int
        public var maximumCachedExtents: Int
        public init(maximumExtentsPerInode: Int = 1 << 16, maximumCachedExtents: Int = 1 << 20) {
            self.maximumExtentsPerInode = maximumExtentsPerInode
            self.maximumCachedExtents = maximumCachedExtents
        }
    }

    public struct Statistics: Sendable, Equatable {
        public var hits: UInt64 = 0
        public var misses: UInt64 = 0
        /// Tree searches issued (loads and windowed lookups).
        public var searches: UInt64 = 0
        public var invalidations: UInt64 = 0
        public var evictions: UInt64 = 0
        /// Lookups of files too fragmented to cache, answered by a windowed search.
        public var windowedLookups: UInt64 = 0
        /// Loads that failed (no such root or inode, permission); answered as unmapped.
        public var failures: UInt64 = 0

        public init() {}
    }

    private struct Entry {
        var map: FileExtentMap
        var lastUse: UInt64
        /// More items than `maximumExtentsPerInode`: answer by windowed searches.
        var tooLarge: Bool
    }

    private struct State {
        var entries: [InodeKey: Entry] = [:]
        var cachedExtents = 0
        var clock: UInt64 = 0
        var statistics = Statistics()
    }

    public let fileSystem: FileSystem
    public let nodeSize: UInt64
    public let options: Options
    private let state = Mutex(State())

    public init(fileSystem: FileSystem, options: Options = Options()) throws {
        self.fileSystem = fileSystem
        self.nodeSize = UInt64(try fileSystem.info().nodeSize)
        self.options = options
    }

    public init(fileSystem: FileSystem, nodeSize: UInt64, options: Options = Options()) {
        self.fileSystem = fileSystem
        self.nodeSize = nodeSize
        self.options = options
    }

    public var statistics: Statistics { state.withLock { $0.statistics } }

    // MARK: PageToLogicalMapper

    public func logicalRanges(root: UInt64, inode: UInt64, firstPage: UInt64, pageCount: UInt64) -> [Range<UInt64>]? {
        if inode == CacheEvent.btreeInode {
            return BtreeInodeMapping.treeBlocks(firstPage: firstPage, pageCount: pageCount, nodeSize: nodeSize)
        }
        // An inode that cannot be mapped (deleted, or its root dropped) is reported unmapped: no credit.
        guard pageCount > 0, let map = try? map(root: root, inode: inode, pages: firstPage..<(firstPage + pageCount)) else {
            return nil
        }
        return map.logicalRanges(firstPage..<(firstPage + pageCount))
    }

    /// `logicalRanges` from the cache only: nil on a miss. Never does I/O.
    public func cachedLogicalRanges(root: UInt64, inode: UInt64, firstPage: UInt64, pageCount: UInt64) -> [Range<UInt64>]? {
        if inode == CacheEvent.btreeInode {
            return BtreeInodeMapping.treeBlocks(firstPage: firstPage, pageCount: pageCount, nodeSize: nodeSize)
        }
        let key = InodeKey(root: root, inode: inode)
        let map: FileExtentMap? = state.withLock { state in
            guard var entry = state.entries[key], !entry.tooLarge else { return nil }
            state.clock += 1
            entry.lastUse = state.clock
            state.entries[key] = entry
            state.statistics.hits += 1
            return entry.map
        }
        return map?.logicalRanges(firstPage..<(firstPage + pageCount))
    }

    // MARK: FileExtentResolving

    public func segments(root: UInt64, inode: UInt64, pages: Range<UInt64>) throws -> (segments: [FileExtentMap.Segment], checksummed: Bool)
    {
        if inode == CacheEvent.btreeInode {
            let blocks = BtreeInodeMapping.treeBlocks(firstPage: pages.lowerBound, pageCount: UInt64(pages.count), nodeSize: nodeSize)
            // Tree blocks always carry a header checksum.
            return (
                blocks.map {
                    FileExtentMap.Segment(pages: pages, kind: .regular, logical: $0, diskExtent: $0, itemPages: pages, generation: 0)
                }, true
            )
        }
        let map = try map(root: root, inode: inode, pages: pages)
        return (map.segments(pages), map.hasDataChecksums)
    }

    /// Loads `(root, inode)` into the cache unless it is there.
    public func prefetch(root: UInt64, inode: UInt64) throws {
        guard inode != CacheEvent.btreeInode else { return }
        _ = try map(root: root, inode: inode, pages: 0..<1)
    }

    public func invalidate(root: UInt64, inode: UInt64) {
        state.withLock { state in
            if let entry = state.entries.removeValue(forKey: InodeKey(root: root, inode: inode)) {
                state.cachedExtents -= entry.map.extents.count
                state.statistics.invalidations += 1
            }
        }
    }

    /// Invalidates every inode whose items `events` may have changed: dirtied, written back,
    /// written to a new extent, or with pages removed (truncate, hole punch, clone).
    public func invalidate(touchedBy events: [CacheEvent]) {
        var keys = Set<InodeKey>()
        for event in events where Self.invalidatingKinds.contains(event.kind) && event.inode != CacheEvent.btreeInode {
            keys.insert(InodeKey(root: event.root, inode: event.inode))
        }
        guard !keys.isEmpty else { return }
        state.withLock { state in
            for key in keys {
                if let entry = state.entries.removeValue(forKey: key) {
                    state.cachedExtents -= entry.map.extents.count
                    state.statistics.invalidations += 1
                }
            }
        }
    }

    /// What a source's delivery thread calls before handing a batch to the hub: invalidates what
    /// the batch touches, then loads the inodes whose pages were added (I/O here, on the caller's
    /// thread), so that the hub's calls under its task locks are cache hits. Failures are left for
    /// the lookup to report as unmapped.
    public func prepare(for events: [CacheEvent]) {
        invalidate(touchedBy: events)
        var loaded = Set<InodeKey>()
        for event in events where event.kind == .added && event.inode != CacheEvent.btreeInode {
            let key = InodeKey(root: event.root, inode: event.inode)
            guard loaded.insert(key).inserted else { continue }
            // Only warms the cache; the lookup repeats the search and reports what fails.
            try? prefetch(root: event.root, inode: event.inode)
        }
    }

    /// This mapper answering from its cache only (`cachedLogicalRanges`): never any I/O under the
    /// hub's locks; a miss is "unknown" (the hub keeps such pages pending). Pair with `prepare(for:)`.
    public var cacheOnly: CacheOnlyFileExtentMapper { CacheOnlyFileExtentMapper(mapper: self) }

    public static let invalidatingKinds: Set<CacheEvent.Kind> = [.dirtied, .writebackFinished, .extentWritten, .removed]

    public func removeAll() {
        state.withLock { state in
            state.entries.removeAll()
            state.cachedExtents = 0
        }
    }

    // MARK: Loading

    /// The map of `(root, inode)` good for at least `pages`: the cached whole-file map, or after a
    /// load; for files too fragmented to cache, a windowed map of just those pages.
    func map(root: UInt64, inode: UInt64, pages: Range<UInt64>) throws -> FileExtentMap {
        let key = InodeKey(root: root, inode: inode)
        let cached: Entry? = state.withLock { state in
            guard var entry = state.entries[key] else {
                state.statistics.misses += 1
                return nil
            }
            state.clock += 1
            entry.lastUse = state.clock
            state.entries[key] = entry
            state.statistics.hits += 1
            return entry
        }
        if let cached {
            guard cached.tooLarge else { return cached.map }
            return try windowedMap(root: root, inode: inode, pages: pages, flags: cached.map.inodeFlags)
        }
        let loaded: (map: FileExtentMap, tooLarge: Bool)
        do {
            loaded = try load(root: root, inode: inode)
        } catch {
            state.withLock { $0.statistics.failures += 1 }
            throw error
        }
        state.withLock { state in
            state.clock += 1
            let stored =
                loaded.tooLarge
                ? FileExtentMap(extents: [], inodeFlags: loaded.map.inodeFlags, isRegularFile: loaded.map.isRegularFile) : loaded.map
            if let old = state.entries.updateValue(Entry(map: stored, lastUse: state.clock, tooLarge: loaded.tooLarge), forKey: key) {
                state.cachedExtents -= old.map.extents.count
            }
            state.cachedExtents += stored.extents.count
            evictIfNeeded(&state, keeping: key)
        }
        if loaded.tooLarge { return try windowedMap(root: root, inode: inode, pages: pages, flags: loaded.map.inodeFlags) }
        return loaded.map
    }

    private func evictIfNeeded(_ state: inout State, keeping key: InodeKey) {
        guard state.cachedExtents > options.maximumCachedExtents || state.entries.count > options.maximumCachedExtents else { return }
        // Drop the least recently used half: amortised O(1) per insertion.
        let sorted = state.entries.sorted { $0.value.lastUse < $1.value.lastUse }
        for (candidate, entry) in sorted.prefix(sorted.count / 2) where candidate != key {
            state.entries[candidate] = nil
            state.cachedExtents -= entry.map.extents.count
            state.statistics.evictions += 1
        }
    }

    /// One search over the inode item and every `EXTENT_DATA` item of the inode.
    private func load(root: UInt64, inode: UInt64) throws -> (map: FileExtentMap, tooLarge: Bool) {
        state.withLock { $0.statistics.searches += 1 }
        var cursor = fileSystem.search(
            tree: root, from: BtrfsKey(inode, ItemType.inodeItem, 0),
            to: BtrfsKey(inode, ItemType.extentData, .max),
            types: [ItemType.inodeItem, ItemType.extentData]
        ).makeCursor()
        var extents: [FileExtentMap.Extent] = []
        var flags: UInt64 = 0
        var regular = true
        while let item = try cursor.next() {
            if item.key.type == ItemType.inodeItem {
                let inodeItem = try InodeItem(bytes: item.data)
                flags = inodeItem.flags
                regular = inodeItem.isRegularFile
                continue
            }
            if extents.count >= options.maximumExtentsPerInode {
                return (FileExtentMap(extents: [], inodeFlags: flags, isRegularFile: regular), true)
            }
            extents.append(FileExtentMap.Extent(try FileExtentItem(key: item.key, bytes: item.data)))
        }
        return (FileExtentMap(extents: extents, inodeFlags: flags, isRegularFile: regular), false)
    }

    /// The items that can cover `pages` of a fragmented file: an item starts at most
    /// `maximumItemSpan` before the first page (extents are at most 128 MiB, prealloc 256 MiB).
    private func windowedMap(root: UInt64, inode: UInt64, pages: Range<UInt64>, flags: UInt64) throws -> FileExtentMap {
        state.withLock {
            $0.statistics.searches += 1
            $0.statistics.windowedLookups += 1
        }
        let start = pages.lowerBound * pageSize
        let lower = start > Self.maximumItemSpan ? start - Self.maximumItemSpan : 0
        let upper = pages.upperBound * pageSize
        var extents: [FileExtentMap.Extent] = []
        try fileSystem.search(
            tree: root, from: BtrfsKey(inode, ItemType.extentData, lower),
            to: BtrfsKey(inode, ItemType.extentData, upper == 0 ? 0 : upper - 1),
            types: [ItemType.extentData]
        ).forEach { item in
            let extent = FileExtentMap.Extent(try FileExtentItem(key: item.key, bytes: item.data))
            if extent.fileRange.upperBound > start { extents.append(extent) }
        }
        return FileExtentMap(extents: extents, inodeFlags: flags)
    }

    static let maximumItemSpan: UInt64 = 256 << 20
}

/// A `FileExtentMapper` that never does I/O: cache hits only (see `FileExtentMapper.cacheOnly`).
public struct CacheOnlyFileExtentMapper: PageToLogicalMapper {
    public let mapper: FileExtentMapper

    public func logicalRanges(root: UInt64, inode: UInt64, firstPage: UInt64, pageCount: UInt64) -> [Range<UInt64>]? {
        mapper.cachedLogicalRanges(root: root, inode: inode, firstPage: firstPage, pageCount: pageCount)
    }
}

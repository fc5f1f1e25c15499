import DuetFS

/// Bytes of one subvolume's files in the page cache now (`duet status`).
public struct CachedSubvolume: Codable, Sendable, Equatable {
    public var id: UInt64
    /// The subvolume's path from the top level; `<top level>` for it, `?` when unknown.
    public var path: String
    public var cachedBytes: UInt64

    public init(id: UInt64, path: String, cachedBytes: UInt64) {
        self.id = id
        self.path = path
        self.cachedBytes = cachedBytes
    }

    /// One entry per subvolume with cached pages, by id; `pages` counts pages per root id,
    /// `names` the paths `Subvolumes.list` gave (a subvolume missing there, e.g. deleted since
    /// the sweep, is shown as `?`).
    public static func list(pages: [UInt64: UInt64], names: [UInt64: String]) -> [CachedSubvolume] {
        pages.keys.sorted().map { id in
            CachedSubvolume(
                id: id, path: id == Subvolumes.topLevelID ? "<top level>" : names[id] ?? "?",
                cachedBytes: pages[id]! * pageSize)
        }
    }

    /// A residency sweep of every file of the file system mounted at `mount` (`kernelDevice`).
    public static func sweep(mount: String, device: UInt32) throws -> [CachedSubvolume] {
        let scanner = try CachestatScanner(mounts: [mount])
        var pages: [UInt64: UInt64] = [:]
        try scanner.scanCachedPages(in: .fileSystem(device: device)) { events in
            for event in events where event.kind == .added { pages[event.root, default: 0] += event.pageCount }
        }
        // Names only label the figures: without them a subvolume shows as "?".
        let names = Dictionary(uniqueKeysWithValues: ((try? Subvolumes.list(mountPath: mount)) ?? []).map { ($0.id, $0.path) })
        return list(pages: pages, names: names)
    }
}

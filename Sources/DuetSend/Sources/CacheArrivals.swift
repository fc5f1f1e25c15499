import DuetFS
import Logging

/// Pages that enter the page cache while the send runs, for the snapshot and its alias
/// subvolumes, from page-cache events: a Duet hub task (event-based model, `.added` only) fed by
/// the eBPF source. The emitter moves disk pieces whose pages arrive ahead of the queue, so it
/// copies them from memory before they are evicted again (the original Duet's backup did the same
/// with its task's events). Without eBPF (not root, no BTF) the emitter falls back to looking at
/// the remaining pieces with `mincore` every so often.
public final class CacheArrivals: @unchecked Sendable {
    // @unchecked: `source`, `hub` and `task` are used from the emitter's thread and the source's
    // reader thread; each is thread-safe itself.
    private let source: BPFEventSource
    private let hub = Hub()
    private let task: HubTask
    public let roots: Set<UInt64>

    /// Starts watching `roots` of the file system mounted at `mountPath`; nil (and why, in the
    /// log) when events are not available here.
    public static func start(mountPath: String, roots: Set<UInt64>, logger: Logger? = nil) -> CacheArrivals? {
        guard BPFEventSource.isSupported else { return nil }
        do {
            let device = try MountTable.current().btrfsEntry(containing: mountPath).kernelDevice
            // A 2 MiB ring, not the watcher's 16 MiB: the kernel maps it twice and every page of
            // it ends up resident, which a send counts against its memory bound (issue 14). At
            // 56 bytes a record it holds 37,000 page arrivals between polls; a lost one only
            // means those pages are read from disk.
            let configuration = BPFEventSource.Configuration(ringBufferBytes: 2 << 20, wakeupBytes: 256 << 10)
            let arrivals = CacheArrivals(
                source: BPFEventSource(devices: [device], paths: [mountPath], configuration: configuration),
                scope: .subvolumes(roots, device: device), roots: roots)
            try arrivals.start()
            return arrivals
        } catch {
            logger?.notice("page-cache events unavailable, polling residency instead: \(error)")
            return nil
        }
    }

    private init(source: BPFEventSource, scope: HubScope, roots: Set<UInt64>) {
        self.source = source
        self.roots = roots
        task = hub.register(
            scope: scope, model: .eventBased, keySpace: .pages, eventMask: CacheEventKinds(.added),
            options: HubTaskOptions(name: "duet-send"))
    }

    private func start() throws {
        try source.start { [hub] events in hub.ingest(events) }
    }

    /// Pages added since the last call, per file.
    public func fetch() -> [InodeKey: [Range<UInt64>]] {
        var arrived: [InodeKey: [Range<UInt64>]] = [:]
        while true {
            let items = task.fetch(max: 4096)
            for item in items {
                arrived[InodeKey(root: item.root, inode: item.inode), default: []].append(item.pages)
            }
            if items.count < 4096 { break }
        }
        return arrived
    }

    /// Pages the hub could not keep (the task's pending limit): the caller should look at
    /// everything again.
    public func overflowed() -> Bool { task.takeOverflow() > 0 }

    public func stop() {
        source.stop()
        task.deregister()
    }

    deinit { stop() }
}

import Synchronization

/// The task hub, after the original Duet's framework: event sources deliver batches of page-cache
/// events with `ingest`; tasks register with a scope, a model and a key space, and `fetch` what is
/// pending for them. Every method is safe to call from any thread.
///
/// Each task has its own lock; the hub's lock only guards the list of tasks, and `ingest` holds it
/// just long enough to copy that list, so fetching, done-set edits and ingest for other tasks
/// proceed in parallel.
public final class Hub: Sendable {
    private struct Registry: Sendable {
        var nextID: UInt64 = 1
        var tasks: [HubTaskCore] = []
    }

    private let registry = Mutex(Registry())

    public init() {}

    /// Hands a batch of events to every registered task whose scope and mask take them.
    public func ingest(_ events: [CacheEvent]) {
        guard !events.isEmpty else { return }
        let tasks = registry.withLock { $0.tasks }
        for task in tasks { task.ingest(events) }
    }

    /// Registers a task; it hears about events ingested from now on.
    public func register(
        scope: HubScope, model: HubModel, keySpace: HubKeySpace,
        eventMask: CacheEventKinds = .all, options: HubTaskOptions = HubTaskOptions()
    ) -> HubTask {
        let configuration = HubTaskConfiguration(
            scope: scope, model: model, keySpace: keySpace,
            eventMask: eventMask, options: options)
        let core = registry.withLock { registry in
            let core = HubTaskCore(id: registry.nextID, configuration: configuration)
            registry.nextID += 1
            registry.tasks.append(core)
            return core
        }
        return HubTask(core: core, hub: self)
    }

    /// Registers a task, then has `scanner` report the pages already cached in its scope (as
    /// `.added`, and `.dirtied` for dirty pages), so the task also learns about data cached before
    /// it started. The task is live before the scan runs, so no event between the scan and
    /// registration is missed; in the state-based model a page the scan reports and a live event
    /// removes in the meantime cancels out, which is the right net state. If the scan throws, the
    /// task is deregistered and the error rethrown.
    public func register(
        scope: HubScope, model: HubModel, keySpace: HubKeySpace,
        eventMask: CacheEventKinds = .all, options: HubTaskOptions = HubTaskOptions(),
        scanner: any CachedPageScanner
    ) throws -> HubTask {
        let task = register(scope: scope, model: model, keySpace: keySpace, eventMask: eventMask, options: options)
        do {
            try scanner.scanCachedPages(in: scope) { task.core.ingest($0) }
        } catch {
            task.deregister()
            throw error
        }
        return task
    }

    /// Registers a task and feeds it `initialScan` as the pages cached before it started.
    public func register(
        scope: HubScope, model: HubModel, keySpace: HubKeySpace,
        eventMask: CacheEventKinds = .all, options: HubTaskOptions = HubTaskOptions(),
        initialScan: some Sequence<CacheEvent>
    ) -> HubTask {
        // A recorded scan cannot throw.
        try! register(
            scope: scope, model: model, keySpace: keySpace, eventMask: eventMask,
            options: options, scanner: RecordedPageScan(initialScan))
    }

    public var taskCount: Int { registry.withLock { $0.tasks.count } }

    func deregister(_ task: HubTask) {
        registry.withLock { $0.tasks.removeAll { $0 === task.core } }
        task.core.deregister()
    }
}

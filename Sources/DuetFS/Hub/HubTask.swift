/// A registered task's handle: fetch pending items, keep the done-set, deregister.
/// After `deregister` every call is a no-op (fetch returns nothing).
public final class HubTask: Sendable {
    let core: HubTaskCore
    private let hub: Hub

    init(core: HubTaskCore, hub: Hub) {
        self.core = core
        self.hub = hub
    }

    public var id: UInt64 { core.id }
    public var name: String { core.configuration.options.name }
    public var scope: HubScope { core.configuration.scope }
    public var model: HubModel { core.configuration.model }
    public var keySpace: HubKeySpace { core.configuration.keySpace }
    public var eventMask: CacheEventKinds { core.configuration.eventMask }
    public var isRegistered: Bool { core.isRegistered }

    /// Up to `max` pending items, lowest pages first within a file, files in the order they first
    /// had pending pages. Each page appears once; runs of pages with equal kinds come as one item.
    /// Items whose work was marked done since they arrived are dropped here too.
    public func fetch(max: Int) -> [HubItem] { core.fetch(max: max) }

    /// Marks `range` done in `domain` (see `HubKeySpace` for which domain a key space uses); later
    /// events for it are dropped unless their kind is in `HubTaskOptions.deliverEvenIfDone`.
    public func markDone(_ range: Range<UInt64>, in domain: DoneDomain) { core.markDone(range, in: domain) }

    public func markUndone(_ range: Range<UInt64>, in domain: DoneDomain) { core.markUndone(range, in: domain) }

    /// Whether every value of `range` is done.
    public func isDone(_ range: Range<UInt64>, in domain: DoneDomain) -> Bool { core.isDone(range, in: domain) }

    /// Logical key space shorthands.
    public func markDone(logical range: Range<UInt64>) { markDone(range, in: .logical) }
    public func markUndone(logical range: Range<UInt64>) { markUndone(range, in: .logical) }
    public func isDone(logical range: Range<UInt64>) -> Bool { isDone(range, in: .logical) }

    /// A copy of the done-set, for status output and tests.
    public var doneSet: DoneSet { core.doneSet }

    public var statistics: HubTaskStatistics { core.statistics }

    /// Pages lost to the pending limit since the last call. Non-zero means the task missed events
    /// and should rescan (or re-register with a scan) rather than trust its picture of the cache.
    public func takeOverflow() -> UInt64 { core.takeOverflow() }

    /// Stops delivery and frees the task's state. Ingest calls already running finish first
    /// (they hold the task's lock), and none after this call reaches the task.
    public func deregister() { hub.deregister(self) }
}

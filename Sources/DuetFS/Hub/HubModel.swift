/// How a task's pending state for a page changes with each event (the two models of the original Duet).
public enum HubModel: Hashable, Sendable {
    /// The task hears the OR of every event kind seen on a page since its last fetch.
    case eventBased
    /// The task hears only a net change of state since its last fetch: added then removed cancel
    /// (and removed then added), dirtied then writeback finished cancel (and the reverse); a page
    /// whose changes all cancel is dropped. `writebackStarted` changes no state and is ignored;
    /// `extentWritten` is not a state but a one-off fact (data moved to a new logical address),
    /// so it passes through as in the event-based model.
    case stateBased

    /// The pending kinds of a page after `kind` happened to it.
    public func apply(_ kind: CacheEvent.Kind, to pending: CacheEventKinds) -> CacheEventKinds {
        switch self {
        case .eventBased:
            return pending.union(CacheEventKinds(kind))
        case .stateBased:
            switch kind {
            case .added: return Self.toggle(pending, set: .added, cancelling: .removed)
            case .removed: return Self.toggle(pending, set: .removed, cancelling: .added)
            case .dirtied: return Self.toggle(pending, set: .dirtied, cancelling: .writebackFinished)
            case .writebackFinished: return Self.toggle(pending, set: .writebackFinished, cancelling: .dirtied)
            case .writebackStarted: return pending
            case .extentWritten: return pending.union(.extentWritten)
            }
        }
    }

    /// A pending opposite change cancels; otherwise the new state is recorded.
    private static func toggle(_ pending: CacheEventKinds, set: CacheEventKinds, cancelling opposite: CacheEventKinds) -> CacheEventKinds {
        if pending.contains(opposite) { return pending.subtracting(opposite) }
        return pending.union(set)
    }
}

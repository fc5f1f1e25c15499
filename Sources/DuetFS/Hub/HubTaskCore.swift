import Collections
import Synchronization

/// What a task asked for when it registered; fixed for its lifetime, so readable without a lock.
struct HubTaskConfiguration: Sendable {
    var scope: HubScope
    var model: HubModel
    var keySpace: HubKeySpace
    var eventMask: CacheEventKinds
    var options: HubTaskOptions
}

/// One task's state behind its own lock, so a task fetching never blocks events for the others.
final class HubTaskCore: Sendable {
    let id: UInt64
    let configuration: HubTaskConfiguration
    private let state = Mutex(State())

    struct State: Sendable {
        var registered = true
        var files: [InodeKey: PageRunMap] = [:]
        /// Files in the order they first had pending pages. A file whose pages all cancelled is
        /// removed from `files` and left here to be skipped at fetch (lazy deletion); the queue is
        /// rebuilt when such stale keys outnumber the live ones.
        var order: Deque<InodeKey> = []
        var done = DoneSet()
        var statistics = HubTaskStatistics()
        var overflowNotTaken: UInt64 = 0
    }

    init(id: UInt64, configuration: HubTaskConfiguration) {
        self.id = id
        self.configuration = configuration
    }

    var isRegistered: Bool { state.withLock { $0.registered } }

    func deregister() {
        state.withLock { state in
            state.registered = false
            state.files = [:]
            state.order = []
            state.done = DoneSet()
            state.statistics.pendingPages = 0
            state.statistics.pendingRuns = 0
        }
    }

    // MARK: Ingest

    func ingest(_ events: [CacheEvent]) {
        let config = configuration
        state.withLock { state in
            guard state.registered else { return }
            for event in events {
                guard event.pageCount > 0, config.eventMask.contains(event.kind),
                    config.scope.contains(device: event.device, root: event.root)
                else { continue }
                let (end, overflow) = event.firstPage.addingReportingOverflow(event.pageCount)
                guard !overflow else { continue }
                state.statistics.eventsAccepted += 1
                let key = InodeKey(root: event.root, inode: event.inode)
                let pages = event.firstPage..<end
                let pieces =
                    config.options.deliverEvenIfDone.contains(event.kind)
                    ? [pages] : undone(pages, of: key, in: state.done)
                state.statistics.pagesFilteredDone += event.pageCount - pieces.reduce(0) { $0 + ($1.upperBound - $1.lowerBound) }
                for piece in pieces { record(event.kind, pages: piece, of: key, in: &state) }
            }
        }
    }

    private func record(_ kind: CacheEvent.Kind, pages: Range<UInt64>, of key: InodeKey, in state: inout State) {
        let limit = configuration.options.pendingPageLimit
        let capacity = limit > state.statistics.pendingPages ? limit - state.statistics.pendingPages : 0
        let model = configuration.model
        // Moved out and back in, so the runs array is edited in place rather than copied.
        var map = state.files.removeValue(forKey: key) ?? PageRunMap()
        let isNew = map.isEmpty
        let runsBefore = map.runs.count
        let outcome = map.update(pages, capacity: capacity) { model.apply(kind, to: $0) }
        state.statistics.pendingPages = state.statistics.pendingPages + outcome.stored - outcome.cancelled
        state.statistics.pagesCancelled += outcome.cancelled
        state.statistics.pagesOverflowed += outcome.overflowed
        state.overflowNotTaken += outcome.overflowed
        state.statistics.pendingRuns += map.runs.count - runsBefore
        if map.isEmpty {
            if !isNew, state.order.count > 2 * state.files.count + 64 { rebuildOrder(&state) }
        } else {
            state.files[key] = map
            if isNew { state.order.append(key) }
        }
    }

    /// Drops stale and repeated keys from the fetch queue, keeping first-come order.
    private func rebuildOrder(_ state: inout State) {
        var seen = Set<InodeKey>()
        state.order = Deque(state.order.filter { state.files[$0] != nil && seen.insert($0).inserted })
    }

    // MARK: Fetch

    func fetch(max: Int) -> [HubItem] {
        guard max > 0 else { return [] }
        let deliverAnyway = configuration.options.deliverEvenIfDone
        return state.withLock { state in
            guard state.registered else { return [] }
            var items: [HubItem] = []
            while items.count < max, let key = state.order.first {
                guard var map = state.files.removeValue(forKey: key) else {
                    state.order.removeFirst()
                    continue
                }
                var consumed = 0
                var leftover: [PageRunMap.Run] = []
                for run in map.runs {
                    guard items.count < max else { break }
                    consumed += 1
                    let pieces =
                        run.kinds.isDisjoint(with: deliverAnyway)
                        ? undone(run.pages, of: key, in: state.done) : [run.pages]
                    state.statistics.pagesFilteredDone += run.count - pieces.reduce(0) { $0 + ($1.upperBound - $1.lowerBound) }
                    for (index, piece) in pieces.enumerated() {
                        if items.count == max {
                            leftover = pieces[index...].map { PageRunMap.Run(pages: $0, kinds: run.kinds) }
                            break
                        }
                        items.append(
                            HubItem(
                                root: key.root, inode: key.inode, firstPage: piece.lowerBound,
                                pageCount: piece.upperBound - piece.lowerBound, kinds: run.kinds))
                    }
                }
                let (pagesBefore, runsBefore) = (map.pageCount, map.runs.count)
                map.removeFirst(consumed)
                map.prepend(leftover)
                state.statistics.pendingPages -= pagesBefore - map.pageCount
                state.statistics.pendingRuns -= runsBefore - map.runs.count
                if map.isEmpty {
                    state.order.removeFirst()
                } else {
                    state.files[key] = map
                }
            }
            state.statistics.itemsFetched += UInt64(items.count)
            state.statistics.pagesFetched += items.reduce(0) { $0 + $1.pageCount }
            return items
        }
    }

    // MARK: Done-set

    func markDone(_ range: Range<UInt64>, in domain: DoneDomain) {
        state.withLock { if $0.registered { $0.done.markDone(range, in: domain) } }
    }

    func markUndone(_ range: Range<UInt64>, in domain: DoneDomain) {
        state.withLock { $0.done.markUndone(range, in: domain) }
    }

    func isDone(_ range: Range<UInt64>, in domain: DoneDomain) -> Bool {
        state.withLock { $0.done.isDone(range, in: domain) }
    }

    var doneSet: DoneSet { state.withLock { $0.done } }

    var statistics: HubTaskStatistics { state.withLock { $0.statistics } }

    func takeOverflow() -> UInt64 {
        state.withLock { state in
            defer { state.overflowNotTaken = 0 }
            return state.overflowNotTaken
        }
    }

    // MARK: Done filtering

    /// The pages of `pages` whose work is not done, in the task's key space.
    private func undone(_ pages: Range<UInt64>, of key: InodeKey, in done: DoneSet) -> [Range<UInt64>] {
        switch configuration.keySpace {
        case .pages:
            return done.undone(pages, in: .file(root: key.root, inode: key.inode))
        case .inodes:
            return done.isDone(key.inode..<key.inode + 1, in: .subvolume(key.root)) ? [] : [pages]
        case .logical(let mapper):
            return undoneLogical(pages, of: key, set: done.set(in: .logical), mapper: mapper)
        }
    }

    /// A page is done when every logical range holding it is done. Pages the mapper cannot place
    /// are kept: nothing proves their work done. The run is mapped whole first; only a run that is
    /// partly done is mapped page by page.
    private func undoneLogical(_ pages: Range<UInt64>, of key: InodeKey, set: ExtentSet, mapper: any PageToLogicalMapper) -> [Range<UInt64>]
    {
        guard !set.isEmpty else { return [pages] }
        enum Status { case done, undone, partly, unknown }
        func status(_ first: UInt64, _ count: UInt64) -> Status {
            guard let ranges = mapper.logicalRanges(root: key.root, inode: key.inode, firstPage: first, pageCount: count),
                !ranges.isEmpty
            else { return .unknown }
            if ranges.allSatisfy({ set.containsAll($0) }) { return .done }
            if !ranges.contains(where: { set.intersects($0) }) { return .undone }
            return .partly
        }
        switch status(pages.lowerBound, pages.upperBound - pages.lowerBound) {
        case .done: return []
        case .undone, .unknown: return [pages]
        case .partly: break
        }
        var kept = ExtentSet()
        for page in pages where status(page, 1) != .done { kept.insert(page) }
        return kept.ranges
    }
}

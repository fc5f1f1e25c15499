import Synchronization

/// Turns page-cache events into ledger credits, following the credit rule (see `Ledger`):
///
/// 1. **Only reads from disk.** An `.added` data page is *held* for `settleSeconds`. A `.dirtied`,
///    `.removed`, `.writebackStarted` or `.writebackFinished` for the page, or an `.extentWritten`
///    for its inode, cancels it: pages added for a write are dirtied at once, and a page that left
///    or changed in the window proves nothing. A page still clean and cached after the window was
///    read from disk, and btrfs verified its checksum on the way in.
/// 2. **Map** the settled pages through `FileExtentResolving` (EXTENT_DATA items of that root).
///    Holes, inline and prealloc extents, and pages no item covers are not credited (nothing came
///    from disk as data). Files with NODATASUM or NODATACOW in their inode flags are skipped: no
///    checksum was verified.
/// 3. **Compressed extents** are checksummed over their compressed bytes, and reading any page
///    reads and verifies the whole disk extent. We still credit the disk extent only once every
///    page the file maps to it has settled (within `compressedAccumulationSeconds`), so a page
///    whose read failed on a torn compressed extent never stands for the whole extent. Readahead
///    of a compressed extent brings all its pages in together, so reads of whole files credit
///    compressed extents in full.
/// 4. **Single copy only.** Credit only data in SINGLE or RAID0 chunks (`Profile.copies == 1`,
///    not parity): a read of DUP/RAID1/RAID10/RAID1C3/4 data verified one mirror and we cannot
///    know which. RAID5/6 are left to the kernel scrub.
/// 5. **Generation.** Each credit records the generation of its extent from the extent tree
///    (`ExtentGenerationLookup`, the same source `Ledger.validCredits` checks against) and the
///    wall-clock time of the settle. A range whose extent is gone by then is not credited.
/// 6. **Writes void.** `.extentWritten` voids the logical range written (`logical ..< +pages`,
///    which covers the compressed length too); the generation check voids whatever else changed.
/// 7. **Tree blocks.** Pages of the btree inode (inode 1) name the node-size tree block at
///    `page × 4096`; they are credited the same way (btrfs checks the header checksum, bytenr and
///    generation on read), which with default DUP metadata means never.
/// 8. **Failed reads** are not in the events (btrfs counts a checksum failure in the device's
///    corruption counter): pages are not credited when the devices' read, corruption or generation
///    error counters now differ from a sample taken before the pages were added.
///
/// `ingest` is cheap (no I/O). `settle` does the mapping and lookups (I/O on cache misses): call it
/// from a thread of your own every few hundred milliseconds (`CreditWatcher` does). Thread-safe.
public final class Creditor: @unchecked Sendable {
    // @unchecked: `generations` (not Sendable as a protocol) is only used under `settleLock`.
    public let mapper: any FileExtentResolving
    public let ledger: any CreditLedger
    public let profiles: any ChunkProfileLookup
    private let generations: any ExtentGenerationLookup
    public let clock: any DuetClock
    public let options: CreditorOptions
    /// Events from other superblock devices are ignored; nil takes every device.
    public let device: UInt32?
    /// Sum of the devices' read and corruption error counters, when known.
    private let deviceErrors: (@Sendable () -> UInt64?)?

    private struct HeldRun {
        var pages: Range<UInt64>
        /// When the newest page was added: the run settles `settleSeconds` after it.
        var time: Double
        /// When the oldest page was added: device error counters are compared from before it.
        var firstTime: Double
    }

    private struct CompressedProgress {
        var itemPages: Range<UInt64>
        var settled = ExtentSet()
        var first: Double
    }

    private struct CompressedKey: Hashable {
        var root: UInt64
        var inode: UInt64
        var diskStart: UInt64
        var itemStart: UInt64
    }

    private struct State {
        var held: [InodeKey: [HeldRun]] = [:]
        var heldPages: UInt64 = 0
        var statistics = CreditorStatistics()
        /// Pages dirtied or written recently, per file, with when that was heard: an `.added` for
        /// them that arrives later may have happened earlier (see `CreditorOptions.reorderSeconds`).
        var recentWrites: [InodeKey: [(pages: Range<UInt64>, time: Double)]] = [:]
        var recentWritesPrunedAt: Double = 0
    }

    private struct SettleState {
        var compressed: [CompressedKey: CompressedProgress] = [:]
        /// Device error counter samples (monotonic time, value), one per settle pass.
        var errorSamples: [(time: Double, value: UInt64?)] = []
    }

    private let state = Mutex(State())
    private let settleLock = Mutex(SettleState())

    public init(
        mapper: any FileExtentResolving, ledger: any CreditLedger, profiles: any ChunkProfileLookup,
        generations: any ExtentGenerationLookup, clock: any DuetClock = SystemClock(),
        options: CreditorOptions = CreditorOptions(), device: UInt32? = nil,
        deviceErrors: (@Sendable () -> UInt64?)? = nil
    ) {
        self.mapper = mapper
        self.ledger = ledger
        self.profiles = profiles
        self.generations = generations
        self.clock = clock
        self.options = options
        self.device = device
        self.deviceErrors = deviceErrors
        if let deviceErrors {
            let now = clock.monotonicSeconds()
            settleLock.withLock { $0.errorSamples = [(now, deviceErrors())] }
        }
    }

    /// A creditor for the mounted file system `fileSystem`: its mapper, chunk profiles, extent tree
    /// and device error counters; events filtered to its superblock device when `device` is given.
    public convenience init(
        fileSystem: FileSystem, ledger: any CreditLedger, device: UInt32? = nil,
        options: CreditorOptions = CreditorOptions(), clock: any DuetClock = SystemClock()
    ) throws {
        let nodeSize = UInt64(try fileSystem.info().nodeSize)
        self.init(
            mapper: FileExtentMapper(fileSystem: fileSystem, nodeSize: nodeSize), ledger: ledger,
            profiles: try ChunkProfiles(fileSystem: fileSystem),
            generations: ExtentTreeGenerationLookup(fileSystem: fileSystem, nodeSize: nodeSize),
            clock: clock, options: options, device: device,
            deviceErrors: { Creditor.errorCount(of: fileSystem) })
    }

    /// Read plus corruption errors over every device (`BTRFS_IOC_GET_DEV_STATS`), nil if unreadable.
    public static func errorCount(of fileSystem: FileSystem) -> UInt64? {
        // nil (unreadable) counts as a change in `settle`: runs are dropped, no credit is risked.
        guard let devices = try? fileSystem.devices() else { return nil }
        var total: UInt64 = 0
        for device in devices {
            guard let stats = try? fileSystem.deviceStatistics(id: device.id) else { return nil }
            total += stats.readErrors + stats.corruptionErrors + stats.generationErrors
        }
        return total
    }

    public var statistics: CreditorStatistics { state.withLock { $0.statistics } }

    /// Pages held now, waiting for their settle window.
    public var heldPages: UInt64 { state.withLock { $0.heldPages } }

    // MARK: Ingest

    /// Takes a batch of events: holds added pages, cancels held pages that were dirtied, removed or
    /// written, invalidates the mapper for inodes whose items may have changed, voids written ranges.
    public func ingest(_ events: [CacheEvent]) {
        let now = clock.monotonicSeconds()
        var voids: [Range<UInt64>] = []
        var touched = Set<InodeKey>()
        state.withLock { state in
            state.statistics.events += UInt64(events.count)
            state.statistics.pageEvents += events.reduce(0) { $0 + $1.pageEventCount }
            for event in events {
                if let device, event.device != device { continue }
                guard event.pageCount > 0 || event.kind == .extentWritten else { continue }
                let key = InodeKey(root: event.root, inode: event.inode)
                let pages = event.firstPage..<(event.firstPage + event.pageCount)
                switch event.kind {
                case .added:
                    for part in withoutRecentWrites(pages, of: key, now: now, in: &state) {
                        hold(part, of: key, at: now, in: &state)
                    }
                case .dirtied, .removed, .writebackStarted, .writebackFinished:
                    cancel(pages, of: key, in: &state)
                    if event.kind != .removed { rememberWrite(pages, of: key, at: now, in: &state) }
                    if event.kind != .writebackStarted { touched.insert(key) }
                case .extentWritten:
                    cancel(0..<UInt64.max, of: key, in: &state)
                    rememberWrite(0..<UInt64.max, of: key, at: now, in: &state)
                    touched.insert(key)
                    if event.logical != 0, event.pageCount > 0 {
                        voids.append(event.logical..<(event.logical + event.pageCount * pageSize))
                    }
                }
            }
        }
        for key in touched where key.inode != CacheEvent.btreeInode { mapper.invalidate(root: key.root, inode: key.inode) }
        var voided: UInt64 = 0
        for range in voids {
            for part in ledger.creditedParts(of: range) {
                ledger.void(range: part)
                voided += UInt64(part.count)
            }
        }
        if voided > 0 { state.withLock { $0.statistics.bytesVoided += voided } }
    }

    private func rememberWrite(_ pages: Range<UInt64>, of key: InodeKey, at now: Double, in state: inout State) {
        guard options.reorderSeconds > 0 else { return }
        state.recentWrites[key, default: []].append((pages, now))
    }

    /// `pages` minus those dirtied or written within `reorderSeconds` before now. Event sources may
    /// deliver an `.added` after a write that followed it (the eBPF source merges page events per
    /// CPU into runs that reach user space up to a poll interval later, while records from other
    /// CPUs and from interrupt context go straight out), so a write heard shortly before an add
    /// counts as if it came after it: the page is not credited.
    private func withoutRecentWrites(_ pages: Range<UInt64>, of key: InodeKey, now: Double, in state: inout State) -> [Range<UInt64>] {
        if now - state.recentWritesPrunedAt > options.reorderSeconds {
            let oldest = now - options.reorderSeconds
            state.recentWrites = state.recentWrites.compactMapValues { entries in
                let kept = entries.filter { $0.time >= oldest }
                return kept.isEmpty ? nil : kept
            }
            state.recentWritesPrunedAt = now
        }
        guard let writes = state.recentWrites[key] else { return [pages] }
        var parts = [pages]
        for write in writes where now - write.time <= options.reorderSeconds {
            parts = parts.flatMap { part -> [Range<UInt64>] in
                let lower = max(part.lowerBound, write.pages.lowerBound)
                let upper = min(part.upperBound, write.pages.upperBound)
                guard lower < upper else { return [part] }
                return [part.lowerBound..<lower, upper..<part.upperBound].filter { !$0.isEmpty }
            }
        }
        let kept = parts.reduce(UInt64(0)) { $0 + UInt64($1.count) }
        state.statistics.pagesCancelled += UInt64(pages.count) - kept
        return parts
    }

    private func hold(_ pages: Range<UInt64>, of key: InodeKey, at now: Double, in state: inout State) {
        let count = UInt64(pages.count)
        guard state.heldPages + count <= options.maximumHeldPages else {
            state.statistics.pagesOverflowed += count
            return
        }
        state.heldPages += count
        state.statistics.pagesHeld += count
        var runs = state.held[key] ?? []
        if var last = runs.last, last.pages.upperBound == pages.lowerBound, now - last.time <= options.runJoinSeconds {
            // The run settles when its newest page does.
            last.pages = last.pages.lowerBound..<pages.upperBound
            last.time = now
            runs[runs.count - 1] = last
        } else {
            runs.append(HeldRun(pages: pages, time: now, firstTime: now))
        }
        state.held[key] = runs
    }

    private func cancel(_ pages: Range<UInt64>, of key: InodeKey, in state: inout State) {
        guard let runs = state.held[key] else { return }
        var kept: [HeldRun] = []
        var cancelled: UInt64 = 0
        for run in runs {
            let lower = max(run.pages.lowerBound, pages.lowerBound)
            let upper = min(run.pages.upperBound, pages.upperBound)
            guard lower < upper else {
                kept.append(run)
                continue
            }
            cancelled += upper - lower
            if run.pages.lowerBound < lower {
                kept.append(HeldRun(pages: run.pages.lowerBound..<lower, time: run.time, firstTime: run.firstTime))
            }
            if upper < run.pages.upperBound {
                kept.append(HeldRun(pages: upper..<run.pages.upperBound, time: run.time, firstTime: run.firstTime))
            }
        }
        state.heldPages -= cancelled
        state.statistics.pagesCancelled += cancelled
        state.held[key] = kept.isEmpty ? nil : kept
    }

    // MARK: Settle

    /// What one settle pass credited (for logs and tests).
    public struct SettleReport: Sendable, Equatable {
        public var credits: [LedgerCredit] = []
        public var settledPages: UInt64 = 0
    }

    /// Credits the held pages whose window has passed (all held pages with `force`, for tests that
    /// drive the clock themselves: `force` does not shorten the rule, it only ignores the clock).
    @discardableResult
    public func settle(force: Bool = false) -> SettleReport {
        settleLock.withLock { settleState in
            let now = clock.monotonicSeconds()
            let cutoff = now - options.settleSeconds
            let ready: [(InodeKey, Range<UInt64>, Double)] = state.withLock { state in
                var ready: [(InodeKey, Range<UInt64>, Double)] = []
                for (key, runs) in state.held {
                    var kept: [HeldRun] = []
                    for run in runs {
                        if force || run.time <= cutoff { ready.append((key, run.pages, run.firstTime)) } else { kept.append(run) }
                    }
                    state.held[key] = kept.isEmpty ? nil : kept
                }
                let count = ready.reduce(UInt64(0)) { $0 + UInt64($1.1.count) }
                state.heldPages -= count
                state.statistics.pagesSettled += count
                return ready
            }
            var report = SettleReport()
            report.settledPages = ready.reduce(0) { $0 + UInt64($1.1.count) }
            expireCompressed(&settleState, now: now)
            // A read that failed leaves no event of its own; the device counters show it. A run is
            // dropped when the counters differ now from a sample taken before its first page came in.
            var current: UInt64?
            if let deviceErrors {
                current = deviceErrors()
                settleState.errorSamples.append((now, current))
                let keepAfter = now - options.settleSeconds - options.compressedAccumulationSeconds - 60
                if let index = settleState.errorSamples.lastIndex(where: { $0.time <= keepAfter }), index > 0 {
                    settleState.errorSamples.removeFirst(index)
                }
            }
            var tally = CreditorStatistics()
            let time = clock.wallSeconds()
            var generationCache: [UInt64: ExtentGeneration?] = [:]
            for (key, pages, firstTime) in ready.sorted(by: {
                ($0.0.root, $0.0.inode, $0.1.lowerBound) < ($1.0.root, $1.0.inode, $1.1.lowerBound)
            }) {
                if deviceErrors != nil {
                    let baseline = settleState.errorSamples.last { $0.time <= firstTime }
                    guard let baseline, let before = baseline.value, let current, before == current else {
                        tally.pagesDroppedForDeviceErrors += UInt64(pages.count)
                        continue
                    }
                }
                credit(
                    pages, of: key, time: time, now: now, compressed: &settleState.compressed,
                    generationCache: &generationCache, tally: &tally, report: &report)
            }
            state.withLock { state in
                state.statistics.bytesCredited += tally.bytesCredited
                state.statistics.bytesSkippedMultipleCopies += tally.bytesSkippedMultipleCopies
                state.statistics.pagesSkippedWithoutChecksums += tally.pagesSkippedWithoutChecksums
                state.statistics.pagesSkippedNotFromDisk += tally.pagesSkippedNotFromDisk
                state.statistics.compressedExtentsCredited += tally.compressedExtentsCredited
                state.statistics.bytesSkippedExtentChanged += tally.bytesSkippedExtentChanged
                state.statistics.failures += tally.failures
                state.statistics.pagesDroppedForDeviceErrors += tally.pagesDroppedForDeviceErrors
            }
            return report
        }
    }

    private func credit(
        _ pages: Range<UInt64>, of key: InodeKey, time: UInt64, now: Double,
        compressed: inout [CompressedKey: CompressedProgress],
        generationCache: inout [UInt64: ExtentGeneration?],
        tally: inout CreditorStatistics, report: inout SettleReport
    ) {
        let mapped: (segments: [FileExtentMap.Segment], checksummed: Bool)
        do {
            mapped = try mapper.segments(root: key.root, inode: key.inode, pages: pages)
        } catch {
            tally.failures += 1
            return
        }
        guard mapped.checksummed else {
            tally.pagesSkippedWithoutChecksums += UInt64(pages.count)
            return
        }
        for segment in mapped.segments {
            switch segment.kind {
            case .regular:
                guard let logical = segment.logical else { continue }
                creditRange(
                    logical, extentStart: segment.diskExtent?.lowerBound ?? logical.lowerBound, time: time,
                    generationCache: &generationCache, tally: &tally, report: &report)
            case .compressed:
                guard let disk = segment.diskExtent else { continue }
                let progressKey = CompressedKey(
                    root: key.root, inode: key.inode, diskStart: disk.lowerBound, itemStart: segment.itemPages.lowerBound)
                var progress = compressed[progressKey] ?? CompressedProgress(itemPages: segment.itemPages, first: now)
                progress.settled.insert(segment.pages)
                if progress.settled.containsAll(progress.itemPages) {
                    compressed[progressKey] = nil
                    if creditRange(
                        disk, extentStart: disk.lowerBound, time: time, generationCache: &generationCache,
                        tally: &tally, report: &report)
                    {
                        tally.compressedExtentsCredited += 1
                    }
                } else {
                    compressed[progressKey] = progress
                }
            case .hole, .inline, .prealloc, .unmapped:
                tally.pagesSkippedNotFromDisk += UInt64(segment.pages.count)
            }
        }
    }

    /// Credits `logical` (inside the extent starting at `extentStart`) if its chunk has one copy and
    /// the extent still exists; returns whether it did.
    @discardableResult
    private func creditRange(
        _ logical: Range<UInt64>, extentStart: UInt64, time: UInt64,
        generationCache: inout [UInt64: ExtentGeneration?],
        tally: inout CreditorStatistics, report: inout SettleReport
    ) -> Bool {
        guard let profile = profiles.profile(at: logical.lowerBound) else {
            tally.failures += 1
            return false
        }
        guard profile.copies == 1, !profile.isParity else {
            tally.bytesSkippedMultipleCopies += UInt64(logical.count)
            return false
        }
        let extent: ExtentGeneration?
        if let cached = generationCache[extentStart] {
            extent = cached
        } else {
            do {
                extent = try generations.extents(overlapping: extentStart..<(extentStart + 1)).first { $0.range.contains(extentStart) }
            } catch {
                tally.failures += 1
                return false
            }
            generationCache[extentStart] = extent
        }
        guard let extent, extent.range.lowerBound <= logical.lowerBound, logical.upperBound <= extent.range.upperBound else {
            tally.bytesSkippedExtentChanged += UInt64(logical.count)
            return false
        }
        ledger.credit(range: logical, generation: extent.generation, time: time)
        tally.bytesCredited += UInt64(logical.count)
        report.credits.append(LedgerCredit(range: logical, generation: extent.generation, time: time))
        return true
    }

    private func expireCompressed(_ settleState: inout SettleState, now: Double) {
        let limit = options.compressedAccumulationSeconds
        let expired = settleState.compressed.filter { now - $0.value.first > limit }.map(\.key)
        guard !expired.isEmpty else { return }
        for key in expired { settleState.compressed[key] = nil }
        state.withLock { $0.statistics.compressedExtentsExpired += UInt64(expired.count) }
    }
}

import DuetFS
import Foundation
import Synchronization

/// One `duet scrub start` or `resume`: takes the per-file-system lock, plans, runs the
/// scrubber with checkpoints at least every `checkpointInterval`, consults and feeds the
/// ledger, and leaves a record that `status` reads and `resume` continues.
// @unchecked: the public settings (`options` … `warn`) are set before `run` and not after; what
// `cancel` shares with `run` from another thread is in `shared`.
public final class ScrubSession: @unchecked Sendable {
    public let fileSystem: FileSystem
    public let info: FileSystemInfo
    public let store: ScrubStateStore
    public var options: ScrubOptions
    /// At most how old a credit may be to be skipped, in seconds (`--period`); nil: since the
    /// last complete scrub, at most 30 days.
    public var period: UInt64?
    public var checkpointInterval: TimeInterval = 2
    public var progress: (@Sendable (ScrubCounters, UInt64) -> Void)?
    /// Something the operator should know that does not stop the scrub (damaged state set aside).
    public var warn: (@Sendable (String) -> Void)?

    private struct Shared {
        var scrubber: Scrubber?
        var cancelRequested = false
        /// Warnings already given: a failure that repeats at every checkpoint is told once.
        var warned: Set<RepeatedWarning> = []
    }
    private let shared = Mutex(Shared())

    private enum RepeatedWarning { case checkpoint, ledger }

    private func warnOnce(_ kind: RepeatedWarning, _ message: String) {
        let first = shared.withLock { $0.warned.insert(kind).inserted }
        if first { warn?(message) }
    }

    public static let maximumPeriod: UInt64 = 30 * 24 * 3600

    public init(fileSystem: FileSystem, stateDirectory: String?, options: ScrubOptions) throws {
        self.fileSystem = fileSystem
        info = try fileSystem.info()
        store = ScrubStateStore(directory: stateDirectory ?? Ledger.defaultDirectory(for: info.fsid))
        self.options = options
    }

    /// Asks the running scrub to stop; `run` then saves and returns an interrupted record.
    public func cancel() {
        let current = shared.withLock { shared in
            shared.cancelRequested = true
            return shared.scrubber
        }
        current?.cancel()
    }

    /// Runs a scrub to the end or until cancelled. With `resume`, continues the saved one.
    public func run(resume: Bool) throws -> ScrubRecord {
        let fileSystemLock = try FileSystemLock(task: "scrub", fileSystem: info.fsid, stateDirectory: store.directory)
        defer { withExtendedLifetime(fileSystemLock) {} }
        try store.lock()
        let previous: ScrubRecord?
        do {
            previous = try store.load()
        } catch let damaged as ScrubStateStore.DamagedRecord {
            if resume {
                throw DuetError.malformed(
                    "\(damaged.description): nothing can be resumed from it; `duet scrub start` moves it aside and scrubs afresh")
            }
            // A damaged record must not stop every later scheduled scrub: keep it, start afresh.
            let aside = try store.setAside()
            warn?("\(damaged.description): moved it to \(aside) and starting a new scrub")
            previous = nil
        }
        if resume {
            // An incomplete scrub ran to its end: resuming it from nothing would count twice.
            guard let previous, previous.status == .running || previous.status == .interrupted else {
                throw ResumeError.nothingToResume(store.recordPath)
            }
            guard previous.uuid == info.fsid.description else {
                throw DuetError.malformed("\(store.recordPath) belongs to file system \(previous.uuid), not \(info.fsid)")
            }
        }
        let planner = try ScrubPlanner(fileSystem: fileSystem)
        let plan = try planner.plan()
        let now = Date()
        var record = ScrubRecord(
            uuid: info.fsid.description, mountPath: fileSystem.path, status: .running, pid: getpid(),
            startedAt: now, updatedAt: now, finishedAt: nil, elapsedSeconds: 0, generation: plan.generation, full: options.full,
            cursors: [:], counters: ScrubCounters(), findings: [], totalToScrubBytes: try Self.totalToScrub(fileSystem))
        if resume, let previous {
            record.startedAt = previous.startedAt
            record.elapsedSeconds = previous.elapsedSeconds
            record.full = previous.full
            record.cursors = previous.cursors
            record.counters = previous.counters
            record.findings = previous.findings
            record.deferredSeconds = previous.deferredSeconds
            options.full = previous.full
        }
        if let previous {
            record.lastSuccessAt =
                previous.lastSuccessAt ?? (previous.status == .finished && previous.counters.errors == 0 ? previous.finishedAt : nil)
        }
        let ledger = LedgerAccess(fileSystem: info.fsid, directory: store.directory)
        if let warning = ledger.openWarning { warn?(warning) }
        let scrubber = Scrubber(
            fileSystem: fileSystem, planner: planner, plan: plan, options: options,
            resume: record.cursorsByDevice, counters: record.counters, findings: record.findings)
        var aheadCounter: AheadCounter?
        if !options.full {
            let since = skipSince(ledger.lastCompletePass)
            scrubber.credits = { range, generation in ledger.credits(in: range, generation: generation, since: since) }
            let lookup = ExtentTreeGenerationLookup(fileSystem: fileSystem, nodeSize: UInt64(info.nodeSize))
            aheadCounter = AheadCounter { [generation = plan.generation] in
                scrubber.verifiedAhead { ledger.verifiedBytes(in: $0, since: since, through: generation, lookup: lookup) }
            }
        }
        scrubber.verifiedRange = { range, generation in ledger.credit(range, generation: generation) }
        let cancelledEarly = shared.withLock { shared in
            shared.scrubber = scrubber
            return shared.cancelRequested
        }
        if cancelledEarly { scrubber.cancel() }

        try store.save(record)
        let runStart = Date()
        let deferredBefore = record.deferredSeconds
        let done = DispatchSemaphore(value: 0)
        let worker = Thread {
            scrubber.run()
            done.signal()
        }
        worker.name = "duet-scrub"
        worker.start()
        while done.wait(timeout: .now() + checkpointInterval) == .timedOut {
            let state = scrubber.checkpoint()
            record.cursors = Dictionary(uniqueKeysWithValues: state.cursors.map { (String($0.key), $0.value) })
            record.counters = state.counters
            record.findings = state.findings
            record.verifiedAheadBytes = aheadCounter?.count() ?? record.verifiedAheadBytes
            if options.idle { record.deferredSeconds = (deferredBefore ?? 0) + scrubber.secondsDeferred }
            record.updatedAt = Date()
            do { try store.save(checkpointed(record, runStart: runStart)) } catch {
                warnOnce(
                    .checkpoint,
                    "could not save the scrub's progress (\(error)): it goes on, but after a kill `duet scrub resume` starts from the last saved point"
                )
            }
            progress?(scrubber.current().counters, record.totalToScrubBytes)
            do { try ledger.flush() } catch {
                warnOnce(.ledger, "could not write this scrub's credits to the ledger (\(error)): a later scrub reads that data again")
            }
        }
        let final = scrubber.current()
        record.counters = final.counters
        record.findings = final.findings
        record.updatedAt = Date()
        record.elapsedSeconds += Date().timeIntervalSince(runStart)
        if options.idle { record.deferredSeconds = (deferredBefore ?? 0) + scrubber.secondsDeferred }
        if scrubber.isCancelled {
            let state = scrubber.checkpoint()
            record.cursors = Dictionary(uniqueKeysWithValues: state.cursors.map { (String($0.key), $0.value) })
            record.counters = state.counters
            record.verifiedAheadBytes = aheadCounter?.count(now: true)
            record.status = .interrupted
        } else if case let gaps = scrubber.coverageGaps(), !gaps.isEmpty {
            // Never "finished" with planned data neither verified nor skipped: say what is missing.
            record.status = .incomplete
            record.coverageGaps = gaps
            record.verifiedAheadBytes = nil
            record.cursors = [:]
        } else {
            try scrubParityWithKernel(plan.parityChunks, into: &record)
            record.status = .finished
            record.verifiedAheadBytes = nil
            record.finishedAt = Date()
            record.cursors = [:]
            if record.counters.errors == 0 { record.lastSuccessAt = record.finishedAt }
            // By default the next scrub skips only what was verified after this one, so a scrub's
            // own credits never excuse the next from verifying that data again.
            ledger.recordCompletePass(time: CompletionTime.afterOwnCredits())
        }
        do { try ledger.flush() } catch {
            warnOnce(.ledger, "could not write this scrub's credits to the ledger (\(error)): a later scrub reads that data again")
        }
        try store.save(record)
        return record
    }

    /// RAID5/6 block groups go whole to the kernel scrub (read-only): Duet does not map their
    /// rotating parity. Its error counts are added to the record as findings per device extent.
    private func scrubParityWithKernel(_ chunks: [ChunkItem], into record: inout ScrubRecord) throws {
        let devices = Dictionary(uniqueKeysWithValues: try fileSystem.devices().map { ($0.id, $0.path) })
        for chunk in chunks {
            let span = Repairer.stripeSpan(chunk)
            for stripe in chunk.stripes {
                let result = try fileSystem.kernelScrub(
                    deviceID: stripe.deviceID, physical: stripe.offset..<(stripe.offset + span), readOnly: true)
                record.counters.parityKernelScrubbed += result.dataBytesScrubbed + result.treeBytesScrubbed
                let errors = result.checksumErrors + result.verifyErrors + result.readErrors
                guard errors > 0 else { continue }
                record.counters.dataErrors += result.checksumErrors
                record.counters.treeErrors += result.verifyErrors
                record.counters.readErrors += result.readErrors
                record.findings.append(
                    ScrubFinding(
                        kind: result.checksumErrors > 0 ? .dataChecksum : (result.verifyErrors > 0 ? .treeHeader : .read),
                        deviceID: stripe.deviceID, devicePath: devices[stripe.deviceID] ?? "?", physical: stripe.offset,
                        logical: chunk.logical, mirror: 0, length: span, affected: [],
                        detail:
                            "kernel scrub of this \(chunk.flags.profile.name) device extent found \(errors) errors (see the kernel log for files)"
                    ))
            }
        }
    }

    /// Counts the verified data ahead of the cursors for checkpoints, at most a tenth of the time:
    /// each count looks up the extent of every credit ahead (a tree search per group of credits),
    /// so on a large ledger it waits ten times as long as the last count took before the next.
    private final class AheadCounter {
        private let measure: () -> UInt64
        private var last: UInt64?
        private var nextAt = Date.distantPast

        init(_ measure: @escaping () -> UInt64) { self.measure = measure }

        /// A fresh count when one is due (or `now`), else the last one.
        func count(now: Bool = false) -> UInt64? {
            guard now || Date() >= nextAt else { return last }
            let start = Date()
            let value = measure()
            nextAt = Date().addingTimeInterval(Date().timeIntervalSince(start) * 10)
            last = value
            return value
        }
    }

    private func checkpointed(_ record: ScrubRecord, runStart: Date) -> ScrubRecord {
        var copy = record
        copy.elapsedSeconds = record.elapsedSeconds + Date().timeIntervalSince(runStart)
        return copy
    }

    /// The oldest credit time the scrub may skip: `--period`, else the last complete scrub,
    /// never more than 30 days back.
    func skipSince(_ lastCompletePass: UInt64?) -> UInt64 {
        let now = UInt64(Date().timeIntervalSince1970)
        let floor = now > Self.maximumPeriod ? now - Self.maximumPeriod : 0
        if let period { return max(floor, now > period ? now - period : 0) }
        return max(floor, lastCompletePass ?? floor)
    }

    /// Bytes a full scrub reads: used bytes of every block group times its copies.
    static func totalToScrub(_ fileSystem: FileSystem) throws -> UInt64 {
        try BlockGroups.load(from: fileSystem).reduce(0) { $0 + $1.used * UInt64($1.flags.profile.copies) }
    }

    public enum ResumeError: Error, CustomStringConvertible {
        case nothingToResume(String)
        public var description: String {
            switch self {
            case .nothingToResume(let path): "nothing to resume: no interrupted scrub is recorded in \(path)"
            }
        }
    }
}

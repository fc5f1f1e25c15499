import DuetFS
import Foundation
import Synchronization

/// Runs one scrub pass: plan → skip → issue → verify → report. One reader thread per device
/// issues reads in physical order; verification runs on the global concurrent queue so reading
/// and hashing overlap; a semaphore bounds the bytes in flight.
// @unchecked: `credits` and `verifiedRange` are set before `run` and not after; what the
// threads share is in `shared`.
public final class Scrubber: @unchecked Sendable {
    public let fileSystem: FileSystem
    public let planner: ScrubPlanner
    public let options: ScrubOptions
    public let plan: ScrubPlan
    /// Credited logical ranges (sorted, disjoint) inside a range at an extent generation: the
    /// ledger, when skipping.
    public var credits: (@Sendable (Range<UInt64>, UInt64) -> [Range<UInt64>])?
    /// Called after every verified piece range (for the ledger and live credits).
    public var verifiedRange: (@Sendable (Range<UInt64>, UInt64) -> Void)?

    /// What the device, reader and verification threads share.
    private struct Shared {
        /// Counters of work wholly below the cursors: what a checkpoint may claim.
        var committed: ScrubCounters
        var findings: [ScrubFinding]
        var progress: [UInt64: DeviceProgress] = [:]
        var cancelled = false
        /// Seconds reads waited for idle devices, summed over devices.
        var waited: TimeInterval = 0
    }
    private let shared: Mutex<Shared>

    /// One device's state in this run.
    private struct DeviceProgress {
        var cursor: DeviceCursor
        /// Bytes this scrub's reads from the device have completed, for telling its own I/O from
        /// the foreground's (the device's counters count a read when it completes).
        var ownBytes: UInt64 = 0
        /// `--idle --deadline`: bytes of the device's extents ahead of the last read issued.
        var workLeft: UInt64?
        /// What this run set out to cover and what it covered, for the end-of-run check.
        var coverage = DeviceCoverage()
    }
    private let inFlight: DispatchSemaphore
    private let inFlightUnit: Int
    private let buffers: AlignedBufferPool
    private let readers: ReaderThreads
    private let throttle: Throttle?
    private let idleMonitor: IdleMonitor?
    /// `--idle --deadline`, per device: each device's reads wait on their own.
    private let deadlines: [UInt64: IdleDeadline]
    /// Per device: the bytes of its device extents ahead of an offset, for the work a deadline
    /// projects.
    private let remainingWork: [UInt64: RemainingWork]

    /// - Parameter resume: per device, the physical offset below which everything was verified.
    public init(
        fileSystem: FileSystem, planner: ScrubPlanner, plan: ScrubPlan, options: ScrubOptions,
        resume: [UInt64: UInt64] = [:], counters: ScrubCounters = ScrubCounters(), findings: [ScrubFinding] = []
    ) {
        var shared = Shared(committed: counters, findings: findings)
        self.fileSystem = fileSystem
        self.planner = planner
        self.plan = plan
        self.options = options
        for devicePlan in plan.devices {
            let start = resume[devicePlan.device.id] ?? 0
            shared.progress[devicePlan.device.id] = DeviceProgress(cursor: DeviceCursor(resumingAt: start))
        }
        inFlightUnit = options.coalescer.maximumRead
        buffers = AlignedBufferPool(bufferSize: options.coalescer.maximumRead)
        let reads = max(1, options.maximumInFlight / inFlightUnit)
        inFlight = DispatchSemaphore(value: reads)
        readers = ReaderThreads(count: min(reads, 16), name: "duet-scrub-read")
        throttle = options.bandwidthLimit > 0 ? Throttle(bytesPerSecond: options.bandwidthLimit) : nil
        idleMonitor = options.idle ? IdleMonitor() : nil
        var deadlines: [UInt64: IdleDeadline] = [:]
        var remainingWork: [UInt64: RemainingWork] = [:]
        if options.idle, let end = options.deadline {
            for devicePlan in plan.devices {
                let id = devicePlan.device.id
                let work = RemainingWork(
                    spans: devicePlan.extents.map { $0.devExtent.physical..<($0.devExtent.physical + $0.devExtent.length) })
                remainingWork[id] = work
                shared.progress[id]?.workLeft = work.bytes(from: resume[id] ?? 0)
                deadlines[id] = IdleDeadline(end: end)
            }
        }
        self.deadlines = deadlines
        self.remainingWork = remainingWork
        self.shared = Mutex(shared)
    }

    /// Seconds this run's reads waited for idle devices (`--idle`), summed over devices.
    public var secondsDeferred: TimeInterval {
        shared.withLock { $0.waited }
    }

    deinit { readers.stop() }

    /// Stops issuing reads; `run` returns once in-flight verification has finished.
    public func cancel() {
        shared.withLock { $0.cancelled = true }
    }

    public var isCancelled: Bool {
        shared.withLock { $0.cancelled }
    }

    /// What a checkpoint saves: committed counters, findings and per-device cursors.
    public func checkpoint() -> (counters: ScrubCounters, findings: [ScrubFinding], cursors: [UInt64: UInt64]) {
        shared.withLock { ($0.committed, $0.findings, $0.progress.mapValues(\.cursor.position)) }
    }

    /// Everything done so far, for progress displays and the final report.
    public func current() -> (counters: ScrubCounters, findings: [ScrubFinding]) {
        shared.withLock { shared in
            var total = shared.committed
            for device in shared.progress.values { total.add(device.cursor.heldCounters) }
            return (total, shared.findings)
        }
    }

    /// Bytes not yet issued that `credited` says reads since the last complete scrub verified:
    /// work done ahead of the cursors (by foreground reads, a send, an earlier run), which this
    /// scrub skips when it gets there. Counted in single-profile data chunks only, whose device
    /// extent maps one to one onto the chunk: those are where credits are skipped (tree blocks
    /// and mirrored or striped data are always read), so it never claims work the scrub will do.
    public func verifiedAhead(credited: (Range<UInt64>) -> UInt64) -> UInt64 {
        guard !options.full else { return 0 }
        let issued = shared.withLock { $0.progress.mapValues { $0.cursor.isDone ? DeviceCursor.done : $0.cursor.issuedEnd } }
        var total: UInt64 = 0
        for devicePlan in plan.devices {
            guard let issuedEnd = issued[devicePlan.device.id], issuedEnd != DeviceCursor.done else { continue }
            for work in devicePlan.extents {
                let chunk = work.chunk
                guard chunk.flags.profile == .single, chunk.flags.contains(.data), !chunk.flags.contains(.metadata),
                    chunk.stripes.count == 1
                else { continue }
                let extent = work.devExtent
                let length = min(extent.length, chunk.length)
                guard extent.physical + length > issuedEnd else { continue }
                let from = max(extent.physical, issuedEnd) - extent.physical
                total += credited((chunk.logical + from)..<(chunk.logical + length))
            }
        }
        return total
    }

    /// After a run that was not cancelled: the devices whose planned bytes were not all read or
    /// skipped. Empty is the condition for calling the scrub finished.
    public func coverageGaps() -> [CoverageGap] {
        let progress = shared.withLock { $0.progress }
        return plan.devices.compactMap { devicePlan in
            let id = devicePlan.device.id
            guard let coverage = progress[id]?.coverage, coverage.planned != coverage.covered else { return nil }
            return CoverageGap(
                deviceID: id, devicePath: devicePlan.device.path, plannedBytes: coverage.planned, coveredBytes: coverage.covered)
        }
    }

    /// Scrubs every device; returns when done or cancelled.
    public func run() {
        let group = DispatchGroup()
        for devicePlan in plan.devices {
            group.enter()
            let thread = Thread { [self] in
                scrubDevice(devicePlan)
                group.leave()
            }
            thread.name = "duet-scrub-\(devicePlan.device.id)"
            thread.start()
        }
        group.wait()
        readers.stop()
    }

    /// Adds counters that belong to no read (superblocks, a whole device extent's failure).
    private func commit(_ update: (inout ScrubCounters) -> Void) {
        shared.withLock { update(&$0.committed) }
    }

    private func scrubDevice(_ devicePlan: ScrubPlan.DevicePlan) {
        let device = devicePlan.device
        let reader: DeviceReader
        do {
            reader = try DeviceReader(path: device.path)
        } catch {
            report(
                ScrubFinding(
                    kind: .read, deviceID: device.id, devicePath: device.path, physical: 0, logical: 0, mirror: 0,
                    length: 0, affected: [], detail: "\(error)"))
            return
        }
        let resumeFrom = checkpoint().cursors[device.id] ?? 0
        if options.superblocks && resumeFrom == 0 {
            verifySuperblocks(device, reader: reader)
        }
        let verification = DispatchGroup()
        let works = devicePlan.extents.filter { $0.devExtent.physical + $0.devExtent.length > resumeFrom }
        var ahead = works.first.map { work in PreparationAhead { [self] in try prepare(work, resumeFrom: resumeFrom) } }
        for (index, work) in works.enumerated() {
            guard let current = ahead else { break }
            let prepared = current.wait()
            ahead = nil
            if case .success(let extent) = prepared {
                shared.withLock { $0.progress[device.id]?.coverage.planned += extent.plannedBytes }
            }
            if isCancelled { break }
            if index + 1 < works.count {
                let next = works[index + 1]
                ahead = PreparationAhead { [self] in try prepare(next, resumeFrom: resumeFrom) }
            }
            do {
                try scrubExtent(work, prepared: prepared.get(), device: device, reader: reader, group: verification)
            } catch {
                commit { $0.readErrors += 1 }
                report(
                    ScrubFinding(
                        kind: .read, deviceID: device.id, devicePath: device.path, physical: work.devExtent.physical,
                        logical: work.chunk.logical, mirror: work.mirror, length: work.devExtent.length, affected: [],
                        detail: "could not scrub this device extent: \(error)"))
            }
        }
        _ = ahead?.wait()  // a cancelled scrub leaves no preparation running behind it
        verification.wait()
        shared.withLock { shared in
            if let held = shared.progress[device.id]?.cursor.finishDevice(cancelled: shared.cancelled) { shared.committed.add(held) }
        }
    }

    /// Finds the pieces of a device extent, takes away what the ledger credits, and loads the
    /// checksums of the data left (only its logical span: a later look at the ledger only removes
    /// pieces).
    private func prepare(_ work: ScrubPlan.DeviceExtentWork, resumeFrom: UInt64) throws -> PreparedExtent {
        let info = planner.info
        let planned = try planner.pieces(in: work, generation: plan.generation)
        var pieces = DeviceCursor.pieces(planned, from: resumeFrom)
        let plannedBytes = DeviceCursor.plannedBytes(planned, from: resumeFrom)
        var skipped: UInt64 = 0
        if !options.full, let credits {
            (pieces, skipped) = PieceSkipper.subtract(pieces, sectorSize: UInt64(info.sectorSize), credited: credits)
        }
        let data = pieces.filter { $0.kind == .data }
        var csums: CsumLookup?
        if let start = data.map(\.logical).min(), let end = data.map({ $0.logical + $0.length }).max() {
            csums = try CsumLookup(fileSystem: fileSystem, info: info, range: start..<end)
        }
        return PreparedExtent(pieces: pieces, skipped: skipped, csums: csums, plannedBytes: plannedBytes)
    }

    private func scrubExtent(
        _ work: ScrubPlan.DeviceExtentWork, prepared: PreparedExtent, device: DeviceInfo,
        reader: DeviceReader, group: DispatchGroup
    ) throws {
        let info = planner.info
        var skipped = prepared.skipped
        let requests = options.coalescer.requests(deviceID: device.id, pieces: prepared.pieces)
        let extentEnd = work.devExtent.physical + work.devExtent.length
        guard !requests.isEmpty else {
            finishExtent(device: device.id, skipped: skipped, through: extentEnd)
            return
        }
        let csums = prepared.csums
        let treeCheck = TreeBlockCheck(info: info)
        for planned in requests {
            if isCancelled { return }
            // Look at the ledger again just before reading: what the foreground read while the
            // scrub worked through earlier requests is skipped too.
            var pieces = planned.pieces
            if !options.full, let credits {
                let (left, more) = PieceSkipper.subtract(pieces, sectorSize: UInt64(info.sectorSize), credited: credits)
                pieces = left
                skipped += more
            }
            for request in options.coalescer.requests(deviceID: device.id, pieces: pieces) {
                // Skipped bytes travel with the next read, so checkpoints stay consistent.
                issue(request, skipped: skipped, device: device, reader: reader, csums: csums, treeCheck: treeCheck, group: group)
                skipped = 0
            }
        }
        if !isCancelled { finishExtent(device: device.id, skipped: skipped, through: extentEnd) }
    }

    /// The device extent up to `end` is issued or skipped: the skipped bytes after its last read are
    /// counted when the cursor passes `end`, as reads are, so a checkpoint never counts them while
    /// its cursor still lies before them (a resume would count them a second time).
    private func finishExtent(device: UInt64, skipped: UInt64, through end: UInt64) {
        var counters = ScrubCounters()
        counters.skippedVerified = skipped
        shared.withLock { shared in
            if let ready = shared.progress[device]?.cursor.passed(end, counters: counters) { shared.committed.add(ready) }
            shared.progress[device]?.coverage.covered += skipped
        }
    }

    private func issue(
        _ request: ReadRequest, skipped: UInt64, device: DeviceInfo, reader: DeviceReader,
        csums: CsumLookup?, treeCheck: TreeBlockCheck, group: DispatchGroup
    ) {
        if let idleMonitor {
            var limit = IdleMonitor.maximumWait
            let deadline = deadlines[device.id]
            if let deadline, let work = remainingWork[device.id] {
                let (left, before) = shared.withLock { shared in
                    let left = work.bytes(from: shared.progress[device.id]?.cursor.issuedEnd ?? 0)
                    let before = shared.progress[device.id]?.workLeft ?? left
                    shared.progress[device.id]?.workLeft = left
                    return (left, before)
                }
                deadline.recordWork(before > left ? before - left : 0)
                limit = deadline.slack(remaining: left)
            }
            let seconds = idleMonitor.waitWhileBusy(device: device.path, atMost: limit, ownBytes: { self.ownBytes(device.id) }) {
                self.isCancelled
            }
            shared.withLock { $0.waited += seconds }
        }
        if let throttle, !throttle.consume(UInt64(request.length), stop: { isCancelled }) { return }
        inFlight.wait()
        shared.withLock { shared in
            shared.progress[device.id]?.cursor.issued(request.physical, end: request.physical + UInt64(request.length))
            shared.progress[device.id]?.coverage.covered += skipped + request.pieces.reduce(0) { $0 + $1.length }
        }
        var counters = ScrubCounters()
        counters.skippedVerified = skipped
        // Reads are issued in physical order and run several at a time (up to the in-flight
        // bound), so the device sees a queue as it does from the kernel scrub.
        group.enter()
        readers.submit { [self, counters] in
            var counters = counters
            let buffer = buffers.take(request.length)
            do {
                try reader.read(into: buffer.pointer, offset: request.physical, length: request.length)
                shared.withLock { $0.progress[device.id]?.ownBytes += UInt64(request.length) }
            } catch {
                buffers.give(buffer)
                counters.readErrors += 1
                reportReadError(request, device: device, error: error)
                finish(request, device: device, counters: counters)
                group.leave()
                return
            }
            counters.deviceBytesRead += UInt64(request.length)
            DispatchQueue.global().async { [self, counters] in
                var counters = counters
                counters.add(verify(request, buffer: buffer, device: device, reader: reader, csums: csums, treeCheck: treeCheck))
                buffers.give(buffer)
                finish(request, device: device, counters: counters)
                group.leave()
            }
        }
    }

    private func ownBytes(_ device: UInt64) -> UInt64 {
        shared.withLock { $0.progress[device]?.ownBytes ?? 0 }
    }

    private func finish(_ request: ReadRequest, device: DeviceInfo, counters: ScrubCounters) {
        shared.withLock { shared in
            if let ready = shared.progress[device.id]?.cursor.finished(
                readAt: request.physical, end: request.physical + UInt64(request.length),
                counters: counters)
            {
                shared.committed.add(ready)
            }
        }
        inFlight.signal()
    }

    private func verify(
        _ request: ReadRequest, buffer: AlignedBuffer, device: DeviceInfo, reader: DeviceReader,
        csums: CsumLookup?, treeCheck: TreeBlockCheck
    ) -> ScrubCounters {
        let info = planner.info
        let sector = UInt64(info.sectorSize)
        let checksummer = Checksummer(info.checksumType)
        let confirmer = Confirmer(fileSystem: fileSystem, info: info)
        var local = ScrubCounters()
        for piece in request.pieces {
            let offset = Int(piece.physical - request.physical)
            switch piece.kind {
            case .data:
                var verifiedBytes: UInt64 = 0
                for index in 0..<(piece.length / sector) {
                    let logical = piece.logical + index * sector
                    guard let expected = csums?.checksum(at: logical) else {
                        local.dataWithoutChecksum += sector
                        continue
                    }
                    let bytes = UnsafeRawBufferPointer(start: buffer.pointer + offset + Int(index * sector), count: Int(sector))
                    let good = expected.withUnsafeBytes { checksummer.matches(bytes, expected: $0) }
                    local.dataVerified += sector
                    verifiedBytes += sector
                    if good { continue }
                    let physical = piece.physical + index * sector
                    let confirmation = confirmer.confirmDataSector(piece, logical: logical, physical: physical, reader: reader)
                    let (found, counts) = confirmation.verdict(firstSeen: .dataChecksum, "data checksum mismatch", sectors: 1)
                    local.add(counts)
                    guard let found else { continue }
                    report(
                        ScrubFinding(
                            kind: found.kind, deviceID: device.id, devicePath: device.path, physical: physical,
                            logical: logical, mirror: piece.mirror, length: sector,
                            affected: AffectedFiles(fileSystem: fileSystem).files(atLogical: logical), detail: found.detail))
                }
                if verifiedBytes > 0, piece.singleCopy { verifiedRange?(piece.logical..<(piece.logical + piece.length), piece.generation) }
            case .treeBlock:
                let block = UnsafeRawBufferPointer(start: buffer.pointer + offset, count: Int(piece.length))
                local.treeVerified += piece.length
                guard let first = treeCheck.problem(block, logical: piece.logical, level: piece.level, maximumGeneration: plan.generation)
                else { continue }
                let confirmation = confirmer.confirmTreeBlock(piece, reader: reader, check: treeCheck)
                let (found, counts) = confirmation.verdict(firstSeen: first.0, first.1, sectors: piece.length / sector)
                local.add(counts)
                guard let found else { continue }
                // A planned tree block is nodesize long, so its header always decodes.
                let owner = (try? TreeBlockHeader(block))?.owner ?? 0
                report(
                    ScrubFinding(
                        kind: found.kind, deviceID: device.id, devicePath: device.path, physical: piece.physical,
                        logical: piece.logical, mirror: piece.mirror, length: piece.length,
                        affected: ["tree block of tree \(owner), level \(piece.level)"], detail: found.detail))
            case .superblock:
                break
            }
        }
        return local
    }

    /// Verifies the superblock copies, then commits their counts and moves the cursor past them in
    /// one step, so no checkpoint holds the counts without the cursor (a resume would count twice).
    private func verifySuperblocks(_ device: DeviceInfo, reader: DeviceReader) {
        let check = SuperblockCheck(info: planner.info)
        var counters = ScrubCounters()
        for offset in SuperblockCheck.copies(deviceSize: device.totalBytes) {
            do {
                let block = try reader.read(offset: offset, length: SuperblockCheck.size)
                counters.superblocksVerified += 1
                counters.deviceBytesRead += UInt64(SuperblockCheck.size)
                if let problem = check.problem(block, offset: offset) {
                    counters.superblockErrors += 1
                    report(
                        ScrubFinding(
                            kind: .superblock, deviceID: device.id, devicePath: device.path, physical: offset, logical: 0,
                            mirror: SuperblockCheck.offsets.firstIndex(of: offset)! + 1, length: UInt64(SuperblockCheck.size),
                            affected: [], detail: problem))
                }
            } catch {
                counters.readErrors += 1
                report(
                    ScrubFinding(
                        kind: .read, deviceID: device.id, devicePath: device.path, physical: offset, logical: 0, mirror: 0,
                        length: UInt64(SuperblockCheck.size), affected: [], detail: "superblock copy unreadable: \(error)"))
            }
        }
        shared.withLock { shared in
            shared.committed.add(counters)
            // Offset 1 lies below every device extent (btrfs keeps the first MiB free): it records
            // only that the superblocks are done.
            shared.progress[device.id]?.cursor.advance(to: 1)
        }
    }

    private func reportReadError(_ request: ReadRequest, device: DeviceInfo, error: Error) {
        let first = request.pieces[0]
        report(
            ScrubFinding(
                kind: .read, deviceID: device.id, devicePath: device.path, physical: request.physical,
                logical: first.logical, mirror: first.mirror, length: UInt64(request.length),
                affected: first.kind == .data ? AffectedFiles(fileSystem: fileSystem).files(atLogical: first.logical) : [],
                detail: "\(error)"))
    }

    /// Records a finding once: a resumed scrub may meet the same error again.
    private func report(_ finding: ScrubFinding) {
        shared.withLock { shared in
            if !shared.findings.contains(where: {
                $0.deviceID == finding.deviceID && $0.physical == finding.physical && $0.kind == finding.kind
            }) {
                shared.findings.append(finding)
            }
        }
    }
}

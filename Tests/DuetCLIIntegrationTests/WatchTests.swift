import DuetFS
import DuetScrub
import DuetTestSupport
import Foundation
import Testing

/// `duet watch` keeps the ledger from real page-cache events, and `duet scrub` skips what it credits.
@Suite(.enabled(if: IntegrationGate.enabled), .serialized)
struct WatchTests {
    /// Starts `duet watch` on the file system; stop it with `stop(_:)` or kill it.
    static func startWatch(_ testFS: TestFileSystem, state: String, logInterval: Int = 1) throws -> Process {
        let watch = Process()
        watch.executableURL = URL(fileURLWithPath: DuetBinary.path)
        watch.arguments = ["watch", "--state-dir", state, "--log-interval", String(logInterval), testFS.mountPoint]
        watch.standardOutput = FileHandle.nullDevice
        watch.standardError = FileHandle.nullDevice
        // A watcher killed with -9 leaves its status file: only this one's counts as ready.
        try? FileManager.default.removeItem(atPath: state + "/watch.json")
        try watch.run()
        do {
            try Eventually.wait(what: "duet watch to write \(state)/watch.json") {
                FileManager.default.fileExists(atPath: state + "/watch.json") || !watch.isRunning
            }
        } catch {
            stop(watch)
            throw error
        }
        guard watch.isRunning else { throw HarnessError("duet watch exited with status \(watch.terminationStatus) before it was ready") }
        return watch
    }

    static func stop(_ watch: Process) {
        watch.terminate()
        watch.waitUntilExit()
    }

    /// Bytes of file `name` credited in the ledger on disk (a running watcher flushes it every second).
    static func credited(_ name: String, _ testFS: TestFileSystem, state: String) throws -> UInt64 {
        let ledger = try Ledger.open(fileSystem: try testFS.open().info().fsid, directory: state, options: LedgerOptions(readOnly: true))
        let credits = ExtentSet(ledger.credits().map(\.range))
        return try Fiemap.extents(ofFileAt: testFS.path(name)).reduce(0) { $0 + credits.count(in: $1.logical..<($1.logical + $1.length)) }
    }

    /// Waits until the ledger holds every byte of `names` (a file of `size`), at most 20 s. A page
    /// the machine evicts inside the settle window is rightly never credited: callers hold a file to
    /// its size less a small margin, and the scrub exactly to what the ledger held.
    static func waitForCredits(_ names: [String], size: UInt64, _ testFS: TestFileSystem, state: String) throws {
        try Eventually.poll(timeout: 20, every: 0.2) { try !names.contains(where: { try credited($0, testFS, state: state) < size }) }
    }

    /// The creditor counters of the running watcher's `watch.json` (rewritten every `--log-interval`).
    static func creditorCounters(state: String) -> [String: UInt64]? {
        guard let data = try? AtomicFile.read(state + "/watch.json"),
            let report = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
            let creditor = report["creditor"] as? [String: Any]
        else { return nil }
        return creditor.compactMapValues { jsonUInt64($0) }
    }

    /// Waits until the watcher has held at least `pages` pages and holds none now: each was
    /// settled (credited or skipped), cancelled or dropped, so stopping it loses no credit.
    static func waitUntilSettled(heldAtLeast pages: UInt64, state: String) throws {
        try Eventually.wait(
            timeout: 30, every: 0.2,
            what: "the watcher to hold \(pages) pages and settle them all: \(creditorCounters(state: state) ?? [:])"
        ) {
            guard let counters = creditorCounters(state: state), let held = counters["pagesHeld"], held >= pages else { return false }
            return (counters["pagesSettled"] ?? 0) + (counters["pagesCancelled"] ?? 0) + (counters["pagesOverflowed"] ?? 0) >= held
        }
    }

    static func read(_ path: String) throws {
        guard let handle = FileHandle(forReadingAtPath: path) else { throw HarnessError("cannot open \(path)") }
        defer { try? handle.close() }
        while let chunk = try handle.read(upToCount: 1 << 20), !chunk.isEmpty {}
    }

    @Test(
        "after half the data was read with duet watch running, a scrub reads at most (1 - f) + 3% and still finds corruption in the other half"
    )
    func scrubSkipsWhatTheForegroundRead() throws {
        try TestFileSystem.with(.init(deviceSize: 1 << 30, dataProfile: .single, metadataProfile: .dup)) { testFS in
            for index in 0..<8 { try testFS.writeFile("f\(index)", size: 24 << 20, seed: UInt64(index + 1)) }
            try testFS.sync()
            let device = testFS.devices[0]
            let state = ScrubRun.stateDirectory(testFS)
            // Corrupt a sector of a file nobody will read.
            let fileSystem = try testFS.open()
            let extent = try #require(try Fiemap.extents(ofFileAt: testFS.path("f7")).first)
            let copy = try ChunkMap.load(from: fileSystem).map(extent.logical + 40960).copies[0]
            try BlockDevice.corrupt(device, sectorAt: copy.physical)
            try TestFileSystem.dropCaches()

            let watch = try Self.startWatch(testFS, state: state)
            for index in 0..<4 { try Self.read(testFS.path("f\(index)")) }
            try Self.waitUntilSettled(heldAtLeast: 4 * (24 << 20) / 4096, state: state)
            Self.stop(watch)
            #expect(watch.terminationStatus == 0)
            // What the watcher credited. A page the machine evicts inside the settle window is
            // rightly not credited (this VM's DAMON pageout reclaims page cache on its own), so the
            // watcher is held to the files read, less a small margin, and the scrub exactly to it.
            let ledger = try Ledger.open(fileSystem: try fileSystem.info().fsid, directory: state, options: LedgerOptions(readOnly: true))
            let credited = ledger.credits().reduce(UInt64(0)) { $0 + UInt64($1.range.count) }
            #expect(
                credited <= 4 * (24 << 20) && credited >= 4 * (24 << 20) - (1 << 20), "credited \(credited) bytes of the four files read")

            try TestFileSystem.dropCaches()
            let before = try BlockDevice.bytesRead(device)
            let skipping = try ScrubRun.run("start", testFS, stateDirectory: state)
            let skippingBytes = try BlockDevice.bytesRead(device) - before
            let record = try #require(skipping.record)
            #expect(skipping.status == 3, "the corruption in the unread half must be found")
            #expect(record.findings.map(\.physical) == [copy.physical])
            #expect(record.counters.skippedVerified == credited, "exactly what the watcher credited")

            try TestFileSystem.dropCaches()
            let beforeFull = try BlockDevice.bytesRead(device)
            let full = try ScrubRun.run("start", testFS, stateDirectory: state, ["--full"])
            let fullBytes = try BlockDevice.bytesRead(device) - beforeFull
            #expect(full.status == 3)
            let fraction = 0.5
            #expect(
                Double(skippingBytes) <= (1 - fraction + 0.03) * Double(fullBytes),
                "skipping scrub read \(skippingBytes) bytes, full scrub \(fullBytes)")
        }
    }

    @Test("a file written then read credits only what was read from disk")
    func writesAreNotCredited() throws {
        try TestFileSystem.with(.init(deviceSize: 512 << 20, dataProfile: .single)) { testFS in
            let state = ScrubRun.stateDirectory(testFS)
            try testFS.writeFile("old", size: 8 << 20, seed: 1)
            try testFS.sync()
            try TestFileSystem.dropCaches()
            let watch = try Self.startWatch(testFS, state: state)
            try testFS.writeFile("new", size: 8 << 20, seed: 2)  // added for a write, then read from cache
            try testFS.sync()
            try Self.read(testFS.path("new"))
            try Self.read(testFS.path("old"))  // read from disk
            // `new`'s pages came in first, so they would have settled before `old`'s.
            try Self.waitForCredits(["old"], size: 8 << 20, testFS, state: state)
            Self.stop(watch)
            let creditedOld = try Self.credited("old", testFS, state: state)
            #expect(creditedOld <= 8 << 20 && creditedOld >= 7 << 20, "credited \(creditedOld) bytes of the file read from disk")
            #expect(try Self.credited("new", testFS, state: state) == 0, "the file written was read from the cache")
            let record = try #require(try ScrubRun.run("start", testFS, stateDirectory: state, ["--period", "1h"]).record)
            #expect(record.counters.skippedVerified == creditedOld, "only the file read from disk is credited")
        }
    }

    @Test("the ledger survives kill -9 of duet watch, no probe stays attached, and a rewrite voids the credit even with no watcher")
    func killAndRewrite() throws {
        try TestFileSystem.with(.init(deviceSize: 512 << 20, dataProfile: .single)) { testFS in
            let state = ScrubRun.stateDirectory(testFS)
            try testFS.writeFile("a", size: 8 << 20, seed: 1)
            try testFS.writeFile("b", size: 8 << 20, seed: 2)
            try testFS.sync()
            try TestFileSystem.dropCaches()
            let watch = try Self.startWatch(testFS, state: state)
            try Self.read(testFS.path("a"))
            try Self.read(testFS.path("b"))
            try Self.waitForCredits(["a", "b"], size: 8 << 20, testFS, state: state)
            let creditedA = try Self.credited("a", testFS, state: state)
            #expect(creditedA <= 8 << 20 && creditedA >= 7 << 20, "credited \(creditedA) bytes of a")
            #expect(try Self.credited("b", testFS, state: state) >= 7 << 20)
            let held = BPFPrograms.held(by: String(watch.processIdentifier))
            #expect(!held.isEmpty, "the watcher holds its probes")
            kill(watch.processIdentifier, SIGKILL)
            watch.waitUntilExit()
            // The kernel frees a released program after an RCU grace period, not synchronously.
            var remaining = Set<Int>()
            try Eventually.poll(timeout: 5, every: 0.1) {
                remaining = held.intersection(try BPFPrograms.loaded().keys)
                return remaining.isEmpty
            }
            #expect(remaining.isEmpty, "probes of the killed watcher still loaded: \(remaining)")

            // Rewrite b while nothing watches: its new extent has a new generation.
            try testFS.writeFile("b", size: 8 << 20, seed: 3)
            try testFS.sync()
            let record = try #require(try ScrubRun.run("start", testFS, stateDirectory: state, ["--period", "1h"]).record)
            #expect(record.counters.skippedVerified == creditedA, "a's credit survived the kill; b's was voided by the rewrite")

            // A restarted watcher opens the same ledger.
            let again = try Self.startWatch(testFS, state: state)
            #expect(again.isRunning)
            Self.stop(again)
            #expect(again.terminationStatus == 0)
        }
    }
}

import DuetFS
import DuetScrub
import DuetTestSupport
import Foundation
import Testing

/// A scrub killed anywhere and resumed must verify exactly what an uninterrupted one verifies:
/// the cursor usually lies inside a data extent (reads are smaller than extents), and the data
/// after it in that extent must not be lost.
@Suite(.enabled(if: IntegrationGate.enabled), .serialized)
struct ScrubResumeTests {
    /// Data extents far larger than a read: two of 128 MiB (the largest btrfs writes), and smaller ones.
    private static func populate(_ testFS: TestFileSystem) throws {
        try Command.run(["sh", "-c", "head -c 256M /dev/urandom > '\(testFS.path("big"))'"])
        for index in 0..<6 { try testFS.writeFile("mid\(index)", size: (3 + index * 2) << 20, seed: UInt64(index + 1)) }
        for index in 0..<40 { try testFS.writeFile("small/\(index)", size: 4096 * (index % 7 + 1), seed: UInt64(index + 100)) }
        try testFS.sync()
        let largest = try Fiemap.extents(ofFileAt: testFS.path("big")).map(\.length).max() ?? 0
        #expect(largest >= 64 << 20, "the file system must hold extents far larger than a read (largest \(largest))")
    }

    /// Starts a throttled scrub and kills it with `signal` once `due` says so (polled every 10 ms,
    /// at most 30 s); returns its exit status.
    private static func interrupt(_ arguments: [String], with signal: Int32, when due: (Int32) -> Bool) throws -> Int32 {
        let scrub = Process()
        scrub.executableURL = URL(fileURLWithPath: DuetBinary.path)
        scrub.arguments = arguments
        scrub.standardOutput = FileHandle.nullDevice
        scrub.standardError = FileHandle.nullDevice
        try scrub.run()
        Eventually.poll(timeout: 30, every: 0.01) { !scrub.isRunning || due(scrub.processIdentifier) }
        kill(scrub.processIdentifier, signal)
        scrub.waitUntilExit()
        return scrub.terminationStatus
    }

    @Test("50 random SIGKILL/SIGTERM points, each resumed: the totals equal an uninterrupted scrub's")
    func randomInterruptions() throws {
        try TestFileSystem.with(.init(deviceSize: 1 << 30, dataProfile: .single, metadataProfile: .dup)) { testFS in
            try Self.populate(testFS)
            let reference = try #require(
                try ScrubRun.run("start", testFS, stateDirectory: testFS.directory + "/reference", ["--full"]).record)
            #expect(reference.status == .finished && reference.counters.errors == 0)
            var generator = SeededGenerator(seed: 20261203)
            var midRun = 0
            var finishedFirst = 0
            var resumed = 0
            // 50 interrupted and resumed scrubs; a run that finished before its kill is drawn again.
            for round in 0..<60 where resumed < 50 {
                let state = testFS.directory + "/state"
                // Every fourth round skips what the ledger credits (the killed run's own verified
                // reads): then verified + skipped must add up to the same data.
                let full = round % 4 != 3
                let signal = round % 3 == 0 ? SIGTERM : SIGKILL
                // Most kills land once the saved progress passes a random share of the work; every
                // tenth as soon as the scrub has saved its first record, before any progress.
                let share = Double.random(in: 0.02...0.6, using: &generator)
                let store = ScrubStateStore(directory: state)
                let due: (Int32) -> Bool = { pid in
                    guard let saved = try? store.load(), saved.pid == pid, saved.status == .running else { return false }
                    return round % 10 == 5
                        || Double(saved.counters.verified + saved.counters.skippedVerified) >= share * Double(reference.counters.verified)
                }
                let arguments =
                    [
                        "scrub", "start", "--limit", "300M", "--read-size", String(64 << (round % 5)) + "K",
                        "--checkpoint-interval", "0.1", "--state-dir", state
                    ] + (full ? ["--full"] : []) + [testFS.mountPoint]
                let status = try Self.interrupt(arguments, with: signal, when: due)
                let interrupted = try #require(try store.load(), "round \(round)")
                if interrupted.status == .finished {  // too late: nothing to resume
                    finishedFirst += 1
                    print("scrub resume: round \(round) (share \(share), full \(full), signal \(signal)) finished before the kill")
                    continue
                }
                if signal == SIGTERM { #expect(status == 5, "round \(round): SIGTERM exits 5") }
                resumed += 1
                if interrupted.counters.dataVerified + interrupted.counters.skippedVerified > 0 { midRun += 1 }

                if round % 5 == 4 {
                    // Kill the resume too, at once: a second resume must still end whole.
                    let soon = Date().addingTimeInterval(0.3)
                    _ = try Self.interrupt(
                        ["scrub", "resume", "--limit", "200M", "--checkpoint-interval", "0.1", "--state-dir", state, testFS.mountPoint],
                        with: SIGKILL, when: { _ in Date() >= soon })
                }
                let record: ScrubRecord
                if let done = try store.load(), done.status == .finished {
                    record = done  // the killed resume had finished already
                } else {
                    let resumed = try ScrubRun.run("resume", testFS, stateDirectory: state)
                    record = try #require(resumed.record, "round \(round): \(resumed.errorOutput)")
                    #expect(resumed.status == 0, "round \(round): \(resumed.errorOutput)")
                }
                #expect(record.status == .finished, "round \(round): \(record.coverageGaps?.map(\.summary) ?? [])")
                let c = record.counters
                if full {
                    #expect(c.dataVerified == reference.counters.dataVerified, "round \(round) (at \(share), signal \(signal))")
                    #expect(c.skippedVerified == 0)
                } else {
                    #expect(c.dataVerified + c.skippedVerified == reference.counters.dataVerified, "round \(round) (at \(share))")
                }
                #expect(c.treeVerified == reference.counters.treeVerified, "round \(round)")
                #expect(c.dataWithoutChecksum == reference.counters.dataWithoutChecksum, "round \(round)")
                #expect(c.superblocksVerified == reference.counters.superblocksVerified, "round \(round)")
                #expect(c.errors == 0)
            }
            print(
                "scrub resume: \(resumed) interrupted and resumed (\(midRun) after a checkpoint with progress), \(finishedFirst) finished before the kill and were drawn again"
            )
            #expect(resumed == 50)
            #expect(midRun >= 40, "the interruptions must land while the scrub is under way")
        }
    }

    @Test("a corruption after the cursor, inside the extent the cursor is in, is found by the resumed scrub")
    func corruptionAfterCursor() throws {
        try TestFileSystem.with(.init(deviceSize: 1 << 30, dataProfile: .single, metadataProfile: .dup)) { testFS in
            try Self.populate(testFS)
            let fileSystem = try testFS.open()
            let extent = try #require(try Fiemap.extents(ofFileAt: testFS.path("big")).max { $0.length < $1.length })
            let map = try ChunkMap.load(from: fileSystem)
            let start = try map.map(extent.logical).copies[0]
            // Near the end of the extent: a resume that drops the piece the cursor is in misses it.
            let victimLogical = extent.logical + extent.length - 3 * 4096
            let victim = try map.map(victimLogical).copies[0]
            let device = try #require(try fileSystem.devices().first { $0.id == victim.deviceID }).path
            try BlockDevice.corrupt(device, sectorAt: victim.physical)
            try TestFileSystem.dropCaches()

            let state = testFS.directory + "/state"
            let scrub = Process()
            scrub.executableURL = URL(fileURLWithPath: DuetBinary.path)
            scrub.arguments = [
                "scrub", "start", "--full", "--limit", "64M", "--read-size", "1M", "--checkpoint-interval", "0.1",
                "--state-dir", state, testFS.mountPoint
            ]
            scrub.standardOutput = FileHandle.nullDevice
            try scrub.run()
            // Kill once the saved cursor is inside the extent, well before the bad sector.
            let store = ScrubStateStore(directory: state)
            let inside = Eventually.poll(timeout: 12, every: 0.02) {
                guard let cursor = (try? store.load())?.cursorsByDevice[victim.deviceID] else { return false }
                return cursor > start.physical + (1 << 20) && cursor < victim.physical - (16 << 20)
            }
            kill(scrub.processIdentifier, SIGKILL)
            scrub.waitUntilExit()
            try #require(inside, "the saved cursor never stopped inside the extent")

            let resumed = try ScrubRun.run("resume", testFS, stateDirectory: state)
            let record = try #require(resumed.record, "\(resumed.errorOutput)")
            #expect(resumed.status == 3, "errors remain: \(resumed.errorOutput)")
            #expect(record.counters.dataErrors == 1)
            #expect(record.findings.contains { $0.kind == .dataChecksum && $0.physical == victim.physical })
        }
    }
}

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

    /// Starts a throttled scrub and kills it with `signal` after `delay`; returns its exit status.
    private static func interrupt(_ arguments: [String], after delay: useconds_t, with signal: Int32) throws -> Int32 {
        let scrub = Process()
        scrub.executableURL = URL(fileURLWithPath: DuetBinary.path)
        scrub.arguments = arguments
        scrub.standardOutput = FileHandle.nullDevice
        scrub.standardError = FileHandle.nullDevice
        try scrub.run()
        usleep(delay)
        kill(scrub.processIdentifier, signal)
        scrub.waitUntilExit()
        return scrub.terminationStatus
    }

    @Test("50 random SIGKILL/SIGTERM points, each resumed: the totals equal an uninterrupted scrub's")
    func randomInterruptions() throws {
        try TestFileSystem.with(.init(deviceSize: 1 << 30, dataProfile: .single, metadataProfile: .dup)) { testFS in
            try Self.populate(testFS)
            let reference = try #require(try ScrubRun.run("start", testFS, stateDirectory: testFS.directory + "/reference", ["--full"]).record)
            #expect(reference.status == .finished && reference.counters.errors == 0)
            var generator = SeededGenerator(seed: 20261203)
            var midRun = 0
            var finishedFirst = 0
            for round in 0..<50 {
                let state = testFS.directory + "/state"
                // Every fourth round skips what the ledger credits (the killed run's own verified
                // reads): then verified + skipped must add up to the same data.
                let full = round % 4 != 3
                let signal = round % 3 == 0 ? SIGTERM : SIGKILL
                let delay = useconds_t.random(in: 50_000...1_500_000, using: &generator)
                let arguments = ["scrub", "start", "--limit", "150M", "--read-size", String(64 << (round % 5)) + "K",
                                 "--checkpoint-interval", "0.1", "--state-dir", state] + (full ? ["--full"] : []) + [testFS.mountPoint]
                let status = try Self.interrupt(arguments, after: delay, with: signal)
                let store = ScrubStateStore(directory: state)
                let interrupted = try #require(try store.load(), "round \(round)")
                if interrupted.status == .finished {  // too late: nothing to resume
                    finishedFirst += 1
                    continue
                }
                if signal == SIGTERM { #expect(status == 5, "round \(round): SIGTERM exits 5") }
                if interrupted.counters.dataVerified + interrupted.counters.skippedVerified > 0 { midRun += 1 }

                if round % 5 == 4 {
                    // Kill the resume too, at once: a second resume must still end whole.
                    _ = try Self.interrupt(["scrub", "resume", "--limit", "200M", "--checkpoint-interval", "0.1", "--state-dir", state, testFS.mountPoint],
                                           after: 300_000, with: SIGKILL)
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
                    #expect(c.dataVerified == reference.counters.dataVerified, "round \(round) (delay \(delay) µs, signal \(signal))")
                    #expect(c.skippedVerified == 0)
                } else {
                    #expect(c.dataVerified + c.skippedVerified == reference.counters.dataVerified, "round \(round) (delay \(delay) µs)")
                }
                #expect(c.treeVerified == reference.counters.treeVerified, "round \(round)")
                #expect(c.dataWithoutChecksum == reference.counters.dataWithoutChecksum, "round \(round)")
                #expect(c.superblocksVerified == reference.counters.superblocksVerified, "round \(round)")
                #expect(c.errors == 0)
            }
            print("scrub resume: of 50 runs, \(midRun) interrupted after a checkpoint with progress, \(50 - midRun - finishedFirst) before one, \(finishedFirst) finished first")
            #expect(midRun >= 40, "most interruptions must land while the scrub is under way: \(midRun)")
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
            scrub.arguments = ["scrub", "start", "--full", "--limit", "64M", "--read-size", "1M", "--checkpoint-interval", "0.1",
                               "--state-dir", state, testFS.mountPoint]
            scrub.standardOutput = FileHandle.nullDevice
            try scrub.run()
            // Kill once the saved cursor is inside the extent, well before the bad sector.
            let store = ScrubStateStore(directory: state)
            var inside = false
            for _ in 0..<600 {
                usleep(20_000)
                if let cursor = (try? store.load())?.cursorsByDevice[victim.deviceID],
                   cursor > start.physical + (1 << 20), cursor < victim.physical - (16 << 20) {
                    inside = true
                    break
                }
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

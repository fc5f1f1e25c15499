import DuetFS
import DuetScrub
import DuetTestSupport
import Foundation
import Testing

/// `duet send` credits the snapshot data it read from disk (the kernel verified it on the way in),
/// so a `duet scrub` after it skips that data: the send-then-scrub pair reads the data once.
@Suite(.enabled(if: IntegrationGate.enabled), .serialized)
struct SendThenScrubTests {
    static let fileSize = 16 << 20

    /// Files in a subvolume, one of them NODATACOW (so without checksums), and a read-only snapshot.
    static func prepare(_ testFS: TestFileSystem) throws {
        try testFS.createSubvolume("live")
        for index in 0..<4 { try testFS.writeFile("live/f\(index)", size: fileSize, seed: UInt64(index + 1)) }
        try writeWithoutChecksums(testFS, "live/nocsum", size: 4 << 20)
        try testFS.sync()
        try testFS.snapshot("live", as: "snap")
        try testFS.sync()
    }

    /// A NODATACOW file, so without checksums (NODATACOW implies NODATASUM; the flag only takes
    /// on an empty file).
    static func writeWithoutChecksums(_ testFS: TestFileSystem, _ relative: String, size: Int) throws {
        _ = FileManager.default.createFile(atPath: testFS.path(relative), contents: nil)
        try Command.run(["chattr", "+C", testFS.path(relative)])
        let handle = try #require(FileHandle(forWritingAtPath: testFS.path(relative)))
        handle.write(Data(TestData.bytes(count: size, seed: 9)))
        try handle.close()
    }

    static func send(_ testFS: TestFileSystem, state: String) throws -> [String: Any] {
        let result = try DuetBinary.run(["send", "--json", "--state-dir", state, "-f", testFS.directory + "/stream", testFS.path("snap")])
        #expect(result.status == 0, "duet send failed: \(result.errorOutput)")
        let envelope = try JSONSerialization.jsonObject(with: Data(result.errorOutput.utf8)) as? [String: Any]
        let report = try #require(envelope?["result"] as? [String: Any])
        return try #require(report["total"] as? [String: Any])
    }

    @Test("a send right after a complete scrub (the same second): the next scrub skips the send's credits")
    func sendRightAfterScrub() throws {
        try TestFileSystem.with(.init(deviceSize: 1 << 30, dataProfile: .single, metadataProfile: .dup)) { testFS in
            try Self.prepare(testFS)
            let state = ScrubRun.stateDirectory(testFS)
            for round in 0..<3 {
                let first = try ScrubRun.run("start", testFS, stateDirectory: state)
                #expect(first.status == 0, "\(first.errorOutput)")
                try TestFileSystem.dropCaches()
                let total = try Self.send(testFS, state: state)
                let credited = jsonUInt64(total["creditedBytes"])
                #expect(credited == UInt64(4 * Self.fileSize))
                let next = try #require(try ScrubRun.run("start", testFS, stateDirectory: state).record)
                #expect(next.counters.skippedVerified == credited, "round \(round): every credit after the completed scrub counts")
            }
        }
    }

    @Test(
        "without a watcher the send writes its credits into the ledger; the scrub then reads only the unverifiable file and the tree blocks"
    )
    func sendCreditsDirectly() throws {
        try TestFileSystem.with(.init(deviceSize: 1 << 30, dataProfile: .single, metadataProfile: .dup)) { testFS in
            try Self.prepare(testFS)
            let state = ScrubRun.stateDirectory(testFS)
            try TestFileSystem.dropCaches()
            let total = try Self.send(testFS, state: state)
            let checksummed = UInt64(4 * Self.fileSize)
            #expect(jsonUInt64(total["diskBytes"]) == checksummed + (4 << 20))
            #expect(jsonUInt64(total["creditedBytes"]) == checksummed, "the NODATACOW file is read but not credited")
            let inbox = (try? FileManager.default.contentsOfDirectory(atPath: state + "/inbox")) ?? []
            #expect(inbox.isEmpty, "the ledger was free: nothing goes to the inbox")

            try TestFileSystem.dropCaches()
            let scrub = try ScrubRun.run("start", testFS, stateDirectory: state)
            let record = try #require(scrub.record, "scrub output: \(scrub.errorOutput)")
            #expect(scrub.status == 0)
            #expect(record.counters.skippedVerified == checksummed)
            #expect(record.counters.dataVerified == 0, "NODATACOW data has no checksums for the scrub to verify either")
        }
    }

    @Test("with duet watch holding the ledger the credits go through the inbox and the scrub skips them")
    func sendCreditsThroughTheWatcher() throws {
        try TestFileSystem.with(.init(deviceSize: 1 << 30, dataProfile: .single, metadataProfile: .dup)) { testFS in
            try Self.prepare(testFS)
            let state = ScrubRun.stateDirectory(testFS)
            try TestFileSystem.dropCaches()
            let watch = try WatchTests.startWatch(testFS, state: state)
            let total = try Self.send(testFS, state: state)
            #expect(jsonUInt64(total["creditedBytes"]) == UInt64(4 * Self.fileSize))
            // The watcher applies the inbox within its next flush (every second).
            var pending = 1
            Eventually.poll(timeout: 10, every: 0.1) {
                pending = ((try? FileManager.default.contentsOfDirectory(atPath: state + "/inbox")) ?? []).count
                return pending == 0
            }
            #expect(pending == 0, "the watcher took the submission in")

            try TestFileSystem.dropCaches()
            let device = testFS.devices[0]
            let before = try BlockDevice.bytesRead(device)
            let scrub = try ScrubRun.run("start", testFS, stateDirectory: state)
            let scrubBytes = try BlockDevice.bytesRead(device) - before
            WatchTests.stop(watch)
            let record = try #require(scrub.record, "scrub output: \(scrub.errorOutput)")
            #expect(record.counters.skippedVerified == UInt64(4 * Self.fileSize))
            #expect(scrubBytes < 8 << 20, "only tree blocks and the superblocks are read, not the 64 MiB sent")
        }
    }

    @Test("data in a DUP chunk is not credited: the send verified one copy of two")
    func multipleCopiesAreNotCredited() throws {
        try TestFileSystem.with(.init(deviceSize: 1 << 30, dataProfile: .dup, metadataProfile: .dup)) { testFS in
            try testFS.createSubvolume("live")
            try testFS.writeFile("live/f", size: Self.fileSize, seed: 3)
            try testFS.sync()
            try testFS.snapshot("live", as: "snap")
            try TestFileSystem.dropCaches()
            let state = ScrubRun.stateDirectory(testFS)
            let total = try Self.send(testFS, state: state)
            #expect(jsonUInt64(total["diskBytes"]) == UInt64(Self.fileSize))
            #expect(jsonUInt64(total["creditedBytes"]) == 0)
            let scrub = try ScrubRun.run("start", testFS, stateDirectory: state)
            #expect(scrub.record?.counters.skippedVerified == 0)
        }
    }

    @Test("while the scrub reads what nothing verified, its checkpoints count the sent data ahead of its cursor, which it then skips")
    func verifiedAheadIsReported() throws {
        try TestFileSystem.with(.init(deviceSize: 1 << 30, dataProfile: .single, metadataProfile: .dup)) { testFS in
            try testFS.createSubvolume("live")
            // The file without checksums first, so it lies before the checksummed ones and the
            // scrub reads it (slowly) while they are still ahead of its cursor.
            try Self.writeWithoutChecksums(testFS, "live/nocsum", size: 6 << 20)
            try testFS.sync()
            for index in 0..<4 { try testFS.writeFile("live/f\(index)", size: Self.fileSize, seed: UInt64(index + 1)) }
            try testFS.sync()
            try testFS.snapshot("live", as: "snap")
            try testFS.sync()
            let state = ScrubRun.stateDirectory(testFS)
            try TestFileSystem.dropCaches()
            let checksummed = UInt64(4 * Self.fileSize)
            #expect(jsonUInt64(try Self.send(testFS, state: state)["creditedBytes"]) == checksummed)

            let scrub = Process()
            scrub.executableURL = URL(fileURLWithPath: DuetBinary.path)
            scrub.arguments = ["scrub", "start", "--limit", "1M", "--read-size", "1M", "--state-dir", state, testFS.mountPoint]
            scrub.standardOutput = FileHandle.nullDevice
            scrub.standardError = FileHandle.nullDevice
            try scrub.run()
            let store = ScrubStateStore(directory: state)
            var seenAhead: [UInt64] = []
            // Samples the checkpoints until the scrub ends.
            Eventually.poll(timeout: 300, every: 0.2) {
                if let record = try? store.load(), record.status == .running, let ahead = record.verifiedAheadBytes {
                    seenAhead.append(ahead)
                }
                return !scrub.isRunning
            }
            scrub.waitUntilExit()
            let record = try #require(try store.load())
            #expect(scrub.terminationStatus == 0)
            #expect(record.status == .finished)
            #expect(record.verifiedAheadBytes == nil, "a finished scrub has nothing ahead")
            #expect(record.counters.skippedVerified == checksummed)
            #expect(seenAhead.contains(checksummed), "checkpoints while the scrub read the unverifiable file: \(seenAhead)")
            #expect(seenAhead.allSatisfy { $0 <= checksummed }, "never more than what the send verified: \(seenAhead)")
        }
    }
}

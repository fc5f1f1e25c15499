import DuetFS
import DuetTestSupport
import Foundation
import Glibc
import Testing

extension SendIntegrationTests {
    /// `-f FILE` never lies and never destroys: a failed, interrupted or killed send leaves FILE
    /// as it was (absent, or the old stream) and never removes what it did not create; a device
    /// node stays a device node.
    @Suite struct SendOutputTests {
        /// Files in `directory` other than `keep`: what a send left behind.
        static func leftovers(in directory: String, keeping keep: Set<String>) throws -> [String] {
            try FileManager.default.contentsOfDirectory(atPath: directory).filter { !keep.contains($0) }.sorted()
        }

        static func bytes(_ path: String) throws -> [UInt8] { try [UInt8](Data(contentsOf: URL(fileURLWithPath: path))) }

        /// A snapshot whose send takes a while (cold cache), and a small one whose stream plays the
        /// old content of the target.
        static func makeSnapshots(_ fs: TestFileSystem) throws {
            try fs.createSubvolume("live")
            for index in 0..<4 { try fs.writeFile("live/f\(index)", size: 32 << 20, seed: UInt64(index)) }
            try fs.snapshot("live", as: "big")
            try fs.createSubvolume("small-live")
            try fs.writeFile("small-live/a", size: 100_000, seed: 9)
            try fs.snapshot("small-live", as: "small")
        }

        @Test func aDeviceNodeTargetIsWrittenInPlaceAndNeverRemoved() throws {
            try TestFileSystem.with { fs in
                try fs.createSubvolume("live")
                try fs.writeFile("live/a", size: 100_000)
                try fs.snapshot("live", as: "snap")
                let directory = fs.directory + "/nodes"
                try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: false)
                let node = directory + "/null"
                // A private copy of /dev/null (1,3), so a bug cannot take the machine's one.
                try Command.run(["mknod", node, "c", "1", "3"])
                func expectStillTheDevice(_ when: String) {
                    var status = stat()
                    #expect(lstat(node, &status) == 0, "\(when): the node is gone")
                    #expect(status.st_mode & S_IFMT == S_IFCHR, "\(when): no longer a character device")
                    #expect(status.st_rdev == (1 << 8 | 3), "\(when): another device")  // glibc dev_t of 1,3
                }
                let failed = try DuetBinary.run(["send", "-f", node, fs.path("live")])
                #expect(failed.status == 1, "\(failed.errorOutput)")
                #expect(failed.errorOutput.contains("is not read-only"), "\(failed.errorOutput)")
                expectStillTheDevice("after a refused send")
                let sent = try DuetBinary.run(["send", "-f", node, fs.path("snap")])
                #expect(sent.status == 0, "\(sent.errorOutput)")
                expectStillTheDevice("after a send")
                #expect(try Self.leftovers(in: directory, keeping: ["null"]) == [])
            }
        }

        @Test func aFailedSendLeavesAnExistingFileUntouched() throws {
            try TestFileSystem.with { fs in
                try fs.createSubvolume("live")
                try fs.writeFile("live/a", size: 100_000)
                try fs.snapshot("live", as: "snap")
                let directory = fs.directory + "/out"
                try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: false)
                let target = directory + "/stream"
                let old = Array("an older stream".utf8)
                try Data(old).write(to: URL(fileURLWithPath: target))
                let result = try DuetBinary.run(["send", "-f", target, fs.path("live")])
                #expect(result.status == 1)
                #expect(try Self.bytes(target) == old)
                #expect(try Self.leftovers(in: directory, keeping: ["stream"]) == [])
                // And a send that succeeds replaces it with a stream receive applies.
                #expect(try DuetBinary.run(["send", "-q", "-f", target, fs.path("snap")]).status == 0)
                #expect(try SendHarness.count(.end, in: target) == 1)
                #expect(try Self.leftovers(in: directory, keeping: ["stream"]) == [])
            }
        }

        /// Starts `duet send -f target snapshot`, waits until its temporary file holds `bytes`
        /// (or it ends), then sends `signal`. Returns the process, ended.
        static func interrupt(snapshot: String, target: String, afterBytes bytes: Int, with signal: Int32) throws -> Process {
            let directory = URL(fileURLWithPath: target).deletingLastPathComponent().path
            let prefix = "." + URL(fileURLWithPath: target).lastPathComponent + ".duet-"
            let process = Process()
            process.executableURL = URL(fileURLWithPath: DuetBinary.path)
            process.arguments = ["send", "-q", "-f", target, snapshot]
            process.standardError = FileHandle.nullDevice
            try process.run()
            // Polled every millisecond: the kill is meant to land near `bytes`.
            Eventually.poll(timeout: 120, every: 0.001) {
                let written =
                    (try? FileManager.default.contentsOfDirectory(atPath: directory))?
                    .filter { $0.hasPrefix(prefix) }
                    .compactMap { try? FileManager.default.attributesOfItem(atPath: directory + "/" + $0)[.size] as? Int }
                    .max() ?? 0
                return written >= bytes || !process.isRunning
            }
            if process.isRunning { kill(process.processIdentifier, signal) }
            process.waitUntilExit()
            return process
        }

        /// SIGKILL at ten random points: the final name is always absent or the old stream, as it
        /// was before the send (or, if the send got to finish first, the complete new one), a temporary file left behind is never named
        /// like the target, and `btrfs receive` of the final name gives the old snapshot whole.
        @Test func aKilledSendNeverLeavesACompleteLookingFile() throws {
            try TestFileSystem.with(TestFileSystemOptions(deviceSize: 1 << 30)) { fs in
                try TestFileSystem.with { receiver in
                    try Self.makeSnapshots(fs)
                    let directory = fs.directory + "/out"
                    try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: false)
                    let target = directory + "/stream"
                    // The size of the whole stream, to pick kill points inside it.
                    let whole = fs.directory + "/whole"
                    #expect(try DuetBinary.run(["send", "-q", "-f", whole, fs.path("big")]).status == 0)
                    let size = try Self.bytes(whole).count
                    try FileManager.default.removeItem(atPath: whole)
                    #expect(try DuetBinary.run(["send", "-q", "-f", target, fs.path("small")]).status == 0)
                    let old = try Self.bytes(target)

                    var random = SeededGenerator(seed: 14)
                    var killed = 0
                    for round in 0..<10 {
                        try TestFileSystem.dropCaches()
                        let point = round == 0 ? 0 : Int(random.next() % UInt64(size))
                        // Odd rounds start without a target: it must stay absent.
                        let absent = round % 2 == 1
                        if absent { try FileManager.default.removeItem(atPath: target) }
                        let process = try Self.interrupt(snapshot: fs.path("big"), target: target, afterBytes: point, with: SIGKILL)
                        if process.terminationReason == .uncaughtSignal {
                            killed += 1
                            if absent {
                                #expect(
                                    !FileManager.default.fileExists(atPath: target),
                                    "round \(round) (killed at \(point) of \(size) bytes): a target appeared")
                                try Data(old).write(to: URL(fileURLWithPath: target))
                            } else {
                                #expect(
                                    try Self.bytes(target) == old,
                                    "round \(round) (killed at \(point) of \(size) bytes): the target changed")
                            }
                        } else {
                            // Finished before the signal: then the target is the complete new stream.
                            #expect(process.terminationStatus == 0)
                            #expect(try Self.bytes(target).count == size)
                            try Data(old).write(to: URL(fileURLWithPath: target))
                        }
                        for name in try Self.leftovers(in: directory, keeping: ["stream"]) {
                            #expect(name.hasPrefix(".stream.duet-"), "round \(round): left \(name)")
                            try FileManager.default.removeItem(atPath: directory + "/" + name)
                        }
                    }
                    #expect(killed >= 8, "only \(killed) of 10 sends were still running when killed")
                    try SendHarness.receive(target, into: receiver.mountPoint)
                    try SendHarness.requireSame(
                        try TreeManifest(root: receiver.path("small")), try TreeManifest(root: fs.path("small")), "small")
                }
            }
        }

        /// SIGTERM: the temporary file is removed, the old file stays, exit code 1.
        @Test func aTerminatedSendRemovesItsTemporaryFile() throws {
            try TestFileSystem.with(TestFileSystemOptions(deviceSize: 1 << 30)) { fs in
                try Self.makeSnapshots(fs)
                let directory = fs.directory + "/out"
                try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: false)
                let target = directory + "/stream"
                let old = Array("an older stream".utf8)
                try Data(old).write(to: URL(fileURLWithPath: target))
                try TestFileSystem.dropCaches()
                let process = try Self.interrupt(snapshot: fs.path("big"), target: target, afterBytes: 1 << 20, with: SIGTERM)
                #expect(process.terminationReason == .exit)
                #expect(process.terminationStatus == 1)
                #expect(try Self.bytes(target) == old)
                #expect(try Self.leftovers(in: directory, keeping: ["stream"]) == [])
            }
        }
    }
}

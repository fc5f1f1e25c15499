import Foundation
import Glibc
import Synchronization
import Testing

@testable import DuetSend

/// `SendOutputGuard` on an ordinary directory: what each way out of a send leaves behind.
@Suite struct SendOutputGuardTests {
    struct WriteFailed: Error {}

    static func write(_ output: SendOutputGuard, _ text: String) {
        _ = Array(text.utf8).withUnsafeBytes { Glibc.write(output.descriptor, $0.baseAddress, $0.count) }
    }

    @Test func aCompleteStreamIsCommitted() throws {
        try SendOutputPolicyTests.withDirectory { directory in
            let target = directory + "/stream"
            let output = try SendOutputGuard(file: target) { Issue.record("no signal was sent") }
            defer { output.release() }
            try output.write(streamStarted: { true }) { Self.write(output, "complete") }
            #expect(output.output.isCommitted)
            #expect(try SendOutputPolicyTests.contents(target) == "complete")
        }
    }

    @Test func aFailedStreamLeavesTheOldFileAndRethrows() throws {
        try SendOutputPolicyTests.withDirectory { directory in
            let target = directory + "/stream"
            try "old".write(toFile: target, atomically: false, encoding: .utf8)
            let output = try SendOutputGuard(file: target) { Issue.record("no signal was sent") }
            defer { output.release() }
            #expect(throws: WriteFailed.self) {
                try output.write(streamStarted: { true }) {
                    Self.write(output, "partial")
                    throw WriteFailed()
                }
            }
            #expect(!output.output.isCommitted)
            #expect(try SendOutputPolicyTests.contents(target) == "old")
            #expect(try FileManager.default.contentsOfDirectory(atPath: directory) == ["stream"])
        }
    }

    /// In place, a refusal leaves the output empty, and a failure cuts only a stream that began.
    @Test(arguments: [(true, true), (false, false)])
    func aFIFOIsCutOnlyOnceTheStreamBegan(started: Bool, cut: Bool) throws {
        try SendOutputPolicyTests.withDirectory { directory in
            let fifo = directory + "/fifo"
            #expect(mkfifo(fifo, 0o600) == 0)
            let copy = directory + "/copy"
            let reader = Process()
            reader.executableURL = URL(fileURLWithPath: "/bin/sh")
            reader.arguments = ["-c", "cat \"$0\" > \"$1\"", fifo, copy]
            try reader.run()
            let output = try SendOutputGuard(file: fifo) { Issue.record("no signal was sent") }
            defer { output.release() }
            #expect(throws: WriteFailed.self) {
                try output.write(streamStarted: { started }) {
                    if started { Self.write(output, "begun") }
                    throw WriteFailed()
                }
            }
            reader.waitUntilExit()
            let received = try [UInt8](Data(contentsOf: URL(fileURLWithPath: copy)))
            #expect(received == (started ? Array("begun".utf8) : []) + (cut ? SendSession.cutMarker : []))
        }
    }

    @Test func aRefusalRemovesTheTemporaryFile() throws {
        try SendOutputPolicyTests.withDirectory { directory in
            let output = try SendOutputGuard(file: directory + "/stream") { Issue.record("no signal was sent") }
            defer { output.release() }
            output.refuse()
            #expect(try FileManager.default.contentsOfDirectory(atPath: directory).isEmpty)
        }
    }

    /// What a signal during the send leaves: the temporary file gone, the old file as it was,
    /// and the caller told (where `duet send` prints its error and exits).
    @Test func aSignalAbandonsTheOutputBeforeTheCallerHearsOfIt() throws {
        try SendOutputPolicyTests.withDirectory { directory in
            let target = directory + "/stream"
            try "old".write(toFile: target, atomically: false, encoding: .utf8)
            let listing = Mutex<[String]?>(nil)
            let output = try SendOutputGuard(file: target) {
                listing.withLock { $0 = try? FileManager.default.contentsOfDirectory(atPath: directory) }
            }
            defer { output.release() }
            Self.write(output, "partial")
            output.signalled()
            #expect(listing.withLock { $0 } == ["stream"], "abandoned before the caller hears of it")
            #expect(try SendOutputPolicyTests.contents(target) == "old")
            #expect(!output.output.isCommitted)
        }
    }
}

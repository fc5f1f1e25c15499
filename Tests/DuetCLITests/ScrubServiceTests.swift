import DuetFS
import DuetScrub
import DuetTestSupport
import Foundation
import Testing

/// What duet-scrub@.service runs (contrib/duet-scrub-resume-or-start), with the real duet on a
/// loop-mounted btrfs: systemd itself cannot run here (PID 1 is not systemd), so the stop is
/// what systemd does, SIGTERM to every process of the unit.
@Suite(.enabled(if: IntegrationGate.enabled), .serialized)
struct ScrubServiceTests {
    static let helper = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("contrib/duet-scrub-resume-or-start").path

    static func service(_ arguments: [String]) throws -> Process {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: helper)
        process.arguments = arguments
        var environment = ProcessInfo.processInfo.environment
        environment["DUET"] = DuetBinary.path
        process.environment = environment
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        return process
    }

    @Test("Stopped mid-scrub it exits 5 (SuccessExitStatus); the next run resumes it, the one after starts anew")
    func stopResumeStart() throws {
        try TestFileSystem.with(.init(deviceSize: 1 << 30)) { testFS in
            for index in 0..<8 { try testFS.writeFile("data\(index)", size: 16 << 20, seed: UInt64(index)) }
            try testFS.sync()
            let state = ScrubRun.stateDirectory(testFS)
            let store = ScrubStateStore(directory: state)

            // No scrub recorded: resume finds nothing (2), so a new one starts; stopped, it exits 5.
            let first = try Self.service(["--limit", "20M", "--state-dir", state, testFS.mountPoint])
            // The lock is taken before the first record is written: wait for both.
            for _ in 0..<100 where !(store.isLocked() && (try? store.load()) != nil) { usleep(100_000) }
            let running = try #require(try store.load())
            #expect(running.status == .running)
            kill(first.processIdentifier, SIGTERM)
            kill(running.pid, SIGTERM)
            first.waitUntilExit()
            #expect(first.terminationReason == .exit && first.terminationStatus == 5)
            let interrupted = try #require(try store.load())
            #expect(interrupted.status == .interrupted)

            // The next run resumes that scrub to the end.
            let second = try Self.service(["--state-dir", state, testFS.mountPoint])
            second.waitUntilExit()
            #expect(second.terminationStatus == 0)
            let resumed = try #require(try store.load())
            #expect(resumed.status == .finished)
            #expect(resumed.startedAt == interrupted.startedAt, "resumed, not started anew")

            // Nothing left to resume: a new scrub.
            let third = try Self.service(["--state-dir", state, testFS.mountPoint])
            third.waitUntilExit()
            #expect(third.terminationStatus == 0)
            let fresh = try #require(try store.load())
            #expect(fresh.status == .finished)
            #expect(fresh.startedAt > resumed.startedAt)
        }
    }
}

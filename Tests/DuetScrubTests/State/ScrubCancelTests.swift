import DuetScrub
import Foundation
import Testing

/// `duet scrub cancel`: whom it signals, and what it reports when the lock is not let go.
@Suite struct ScrubCancelTests {
    static func temporaryDirectory() -> String {
        FileManager.default.temporaryDirectory.appendingPathComponent("duet-scrub-cancel-\(UUID().uuidString)").path
    }

    @Test("nothing is signalled without a lock holder, or when the record does not say running")
    func notRunning() throws {
        let directory = Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        #expect(try ScrubStateStore(directory: directory).cancelRunning(timeout: 0.1) == .notRunning, "no state at all")
        let scrub = ScrubStateStore(directory: directory)
        try scrub.lock()
        // pid 1 would be signalled if the finished record were taken for a running one.
        try scrub.save(try ScrubOutcomeTests.record(.finished))
        #expect(try ScrubStateStore(directory: directory).cancelRunning(timeout: 0.1) == .notRunning)
        withExtendedLifetime(scrub) {}
    }

    @Test("a process that keeps the lock after SIGTERM is reported, by pid, once the wait runs out")
    func lockNotReleased() throws {
        let directory = Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        // The record names a child, so the SIGTERM reaches no scrub; the lock stays with this
        // process's store. SIGKILL after it: under the test runner the child outlived SIGTERM.
        let child = Process()
        child.executableURL = URL(fileURLWithPath: "/bin/sleep")
        child.arguments = ["30"]
        try child.run()
        defer {
            kill(child.processIdentifier, SIGKILL)
            child.waitUntilExit()
        }
        let scrub = ScrubStateStore(directory: directory)
        try scrub.lock()
        var record = try ScrubOutcomeTests.record(.running)
        record.pid = child.processIdentifier
        try scrub.save(record)
        let outcome = try ScrubStateStore(directory: directory).cancelRunning(timeout: 0.3, pollInterval: 0.05)
        #expect(outcome == .stillRunning(pid: child.processIdentifier))
        withExtendedLifetime(scrub) {}
    }
}

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
            try Eventually.wait(what: "the scrub to take the lock and write its first record") {
                store.isLocked() && (try? store.load()) != nil
            }
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

            // Nothing left to resume: a new scrub, which records the generation it starts at.
            try testFS.writeFile("later", size: 64 << 10, seed: 99)
            try testFS.sync()
            let third = try Self.service(["--state-dir", state, testFS.mountPoint])
            third.waitUntilExit()
            #expect(third.terminationStatus == 0)
            let fresh = try #require(try store.load())
            #expect(fresh.status == .finished)
            #expect(fresh.generation > resumed.generation, "started anew, not resumed")
        }
    }

    /// The capabilities a unit keeps (its CapabilityBoundingSet= line), as setpriv spells them.
    static func boundingSet(_ unit: String) throws -> String {
        let text = try String(contentsOfFile: URL(fileURLWithPath: helper).deletingLastPathComponent().path + "/" + unit, encoding: .utf8)
        let line = try #require(text.split(separator: "\n").first { $0.hasPrefix("CapabilityBoundingSet=") })
        let names = line.dropFirst("CapabilityBoundingSet=".count).split(separator: " ").map {
            $0.lowercased().replacingOccurrences(of: "cap_", with: "+")
        }
        return (["-all"] + names).joined(separator: ",")
    }

    @Test("With only the capabilities the units keep, a scrub with --repair finds and repairs, and the eBPF watcher starts")
    func unitCapabilitiesSuffice() throws {
        // systemd cannot run the units here; setpriv gives duet the same bounding set and
        // no_new_privs, which is what those settings do to a service running as root.
        let scrubCaps = try Self.boundingSet("duet-scrub@.service")
        let watchCaps = try Self.boundingSet("duet-watch@.service")
        try TestFileSystem.with(.init(deviceSize: 512 << 20, dataProfile: .dup, metadataProfile: .dup)) { testFS in
            try testFS.writeFile("a", size: 4 << 20, seed: 7)
            try testFS.sync()
            let state = ScrubRun.stateDirectory(testFS)
            // One bad copy of a data sector, for the kernel scrub to rewrite from the good one.
            let fileSystem = try testFS.open()
            let extent = try #require(try Fiemap.extents(ofFileAt: testFS.path("a")).first)
            let copy = try ChunkMap.load(from: fileSystem).map(extent.logical + 40960).copies[0]
            try BlockDevice.corrupt(testFS.devices[0], sectorAt: copy.physical)
            try TestFileSystem.dropCaches()

            let watch = Process()
            watch.executableURL = URL(fileURLWithPath: "/usr/bin/setpriv")
            watch.arguments = [
                "--bounding-set", watchCaps, "--no-new-privs", "--", DuetBinary.path,
                "watch", "--source", "bpf", "--state-dir", state, "--log-interval", "1", "--json", testFS.mountPoint
            ]
            let output = Pipe()
            watch.standardOutput = output
            watch.standardError = FileHandle.nullDevice
            try watch.run()
            // The first status line comes once the probes are attached and the watcher runs.
            let firstLine = output.fileHandleForReading.availableData
            watch.terminate()
            watch.waitUntilExit()
            #expect(
                String(decoding: firstLine, as: UTF8.self).contains(#""source":"ebpf""#), "\(String(decoding: firstLine, as: UTF8.self))")
            #expect(watch.terminationStatus == 0, "watch under \(watchCaps)")

            let scrub = try Command.execute([
                "setpriv", "--bounding-set", scrubCaps, "--no-new-privs", "--", DuetBinary.path,
                "scrub", "start", "--repair", "--state-dir", state, testFS.mountPoint
            ])
            #expect(scrub.status == 4, "scrub under \(scrubCaps): errors found and all corrected: \(scrub.errorOutput)")
            let again = try Command.execute([
                "setpriv", "--bounding-set", scrubCaps, "--no-new-privs", "--", DuetBinary.path,
                "scrub", "start", "--full", "--state-dir", state, testFS.mountPoint
            ])
            #expect(again.status == 0, "after the repair: \(again.errorOutput)")
        }
    }
}

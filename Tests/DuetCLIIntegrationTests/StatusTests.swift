import DuetFS
import DuetTestSupport
import Foundation
import Testing

/// `duet status`: what is cached per subvolume, what the ledger credits by age, whether a watcher runs.
@Suite(.enabled(if: IntegrationGate.enabled), .serialized)
struct StatusTests {
    static func status(_ testFS: TestFileSystem, state: String) throws -> (text: String, json: [String: Any]) {
        let text = try DuetBinary.run(["status", "--state-dir", state, testFS.mountPoint])
        let json = try DuetBinary.run(["status", "--json", "--state-dir", state, testFS.mountPoint])
        #expect(text.status == 0 && json.status == 0, "\(text.errorOutput)\(json.errorOutput)")
        let object = try JSONSerialization.jsonObject(with: Data(json.output.utf8)) as? [String: Any]
        return (text.output, try #require(object?["result"] as? [String: Any]))
    }

    @Test("cached bytes per subvolume, ledger credits by age, and the watcher: running, from another version, or gone")
    func cachedLedgerAndWatcher() throws {
        try TestFileSystem.with(.init(deviceSize: 512 << 20, dataProfile: .single)) { testFS in
            let state = testFS.directory + "/state"
            try testFS.writeFile("a", size: 8 << 20, seed: 1)
            try testFS.sync()
            try TestFileSystem.dropCaches()
            try WatchTests.read(testFS.path("a"))

            var (text, json) = try Self.status(testFS, state: state)
            let cached = try #require(json["cached"] as? [[String: Any]])
            let topLevel = try #require(cached.first { $0["path"] as? String == "<top level>" })
            #expect((topLevel["cachedBytes"] as? UInt64 ?? 0) >= 8 << 20, "a was read whole: \(cached)")
            #expect(json["watcherRunning"] as? Bool == false)
            #expect(text.contains("not running"))

            // A watcher credits a read from disk; status shows it running, and the credit as recent.
            let watch = try WatchTests.startWatch(testFS, state: state, logInterval: 60)
            defer { if watch.isRunning { WatchTests.stop(watch) } }
            try TestFileSystem.dropCaches()
            try WatchTests.read(testFS.path("a"))
            try WatchTests.waitForCredits(["a"], size: 8 << 20, testFS, state: state)
            (text, json) = try Self.status(testFS, state: state)
            #expect(json["watcherRunning"] as? Bool == true)
            #expect(text.contains("running (pid \(watch.processIdentifier)"))
            let coverage = try #require(json["ledgerCoverage"] as? [[String: Any]])
            #expect(coverage.first?["age"] as? String == "within 1 hour")
            #expect((coverage.first?["verifiedBytes"] as? UInt64 ?? 0) >= 7 << 20, "\(coverage)")
            // The JSON reference's names: `uuid`, `mountPath`, ages in seconds.
            let uuid = try testFS.open().info().fsid.description
            #expect(json["uuid"] as? String == uuid && json["mountPath"] as? String == testFS.mountPoint, "\(json)")
            #expect(coverage.first?["minAgeSeconds"] as? UInt64 == 0 && coverage.first?["maxAgeSeconds"] as? UInt64 == 3600, "\(coverage)")
            #expect(coverage.last?["age"] as? String == "older" && coverage.last?["maxAgeSeconds"] == nil, "\(coverage)")
            let watcher = try #require(json["watcher"] as? [String: Any])
            #expect(watcher["uuid"] as? String == uuid && watcher["mountPath"] as? String == testFS.mountPoint, "\(watcher)")
            #expect((watcher["ageSeconds"] as? Double ?? -1) >= 0 && (watcher["ageSeconds"] as? Double ?? 99) < 30, "\(watcher)")

            // Its status file as another version of duet would write it: still running.
            let file = state + "/watch.json"
            let older = #"{"pid": \#(watch.processIdentifier), "source": "bpf", "mount": "\#(testFS.mountPoint)", "rate": 12}"#
            try Data(older.utf8).write(to: URL(fileURLWithPath: file))
            (text, json) = try Self.status(testFS, state: state)
            #expect(json["watcherRunning"] as? Bool == true)
            #expect(text.contains("running (pid \(watch.processIdentifier), bpf; another version of duet"), "\(text)")

            // Stopped: its file is gone. One left by a watcher killed with -9 names a pid that no
            // longer runs duet watch (here this test's own process).
            WatchTests.stop(watch)
            #expect(!FileManager.default.fileExists(atPath: file))
            try Data(#"{"pid": \#(getpid()), "source": "bpf"}"#.utf8).write(to: URL(fileURLWithPath: file))
            (text, json) = try Self.status(testFS, state: state)
            #expect(json["watcherRunning"] as? Bool == false)
            #expect(text.contains("not running"))
        }
    }
}

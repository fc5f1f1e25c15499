import DuetFS
import DuetScrub
import DuetTestSupport
import Foundation
import Testing

/// The state directory as an operator meets it: shared, tampered with, damaged; one scrub and one
/// watcher per file system; a scrub that stops when told at any rate.
@Suite(.enabled(if: IntegrationGate.enabled), .serialized)
struct ScrubStateSafetyTests {
    /// Every name the state directory can hold, the earlier versions' fixed temporary names among them.
    static let stateNames = [
        "scrub.json", "scrub.json.tmp", "scrub.lock", "lock", "journal", "journal.tmp", "snapshot",
        "snapshot.tmp", "inbox", "watch.json", "watch.json.tmp"
    ]

    private static func small(_ testFS: TestFileSystem) throws {
        for index in 0..<4 { try testFS.writeFile("d\(index)", size: 4 << 20, seed: UInt64(index + 1)) }
        try testFS.sync()
    }

    @Test("a symbolic link planted at any state or metrics file name never has its target written")
    func plantedLinksAreNeverFollowed() throws {
        try TestFileSystem.with(.init()) { testFS in
            try Self.small(testFS)
            let fsid = try testFS.open().info().fsid.description
            let precious = testFS.directory + "/precious"
            let content = Data("precious content\n".utf8)
            for name in Self.stateNames + ["metrics"] {
                try content.write(to: URL(fileURLWithPath: precious))
                chmod(precious, 0o640)
                let state = testFS.directory + "/state-\(name)"
                let metrics = testFS.directory + "/metrics-\(name)"
                try FileManager.default.createDirectory(
                    atPath: state, withIntermediateDirectories: false, attributes: [.posixPermissions: 0o700])
                try FileManager.default.createDirectory(atPath: metrics, withIntermediateDirectories: false)
                let link = name == "metrics" ? "\(metrics)/duet_scrub_\(fsid).prom" : "\(state)/\(name)"
                try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: precious)

                let scrub = try ScrubRun.run("start", testFS, stateDirectory: state, ["--metrics-dir", metrics])
                if name.hasPrefix("watch") {
                    let watch = try WatchProcess(testFS, state: state)
                    watch.stop()
                }
                let after = try Data(contentsOf: URL(fileURLWithPath: precious))
                var info = stat()
                stat(precious, &info)
                #expect(after == content, "\(name): the link's target was written")
                #expect(info.st_mode & 0o777 == 0o640, "\(name): the link's target changed mode")
                // Refused with a clear line, or the link replaced by the file itself: never followed.
                var linkInfo = stat()
                let stillLink = lstat(link, &linkInfo) == 0 && linkInfo.st_mode & S_IFMT == S_IFLNK
                if stillLink, scrub.status != 0 {
                    #expect(scrub.errorOutput.contains("symbolic link"), "\(name): \(scrub.errorOutput)")
                }
            }
        }
    }

    @Test("a state directory, or a parent, that another user can write or owns is refused; a sticky /tmp-like parent is not")
    func strictModes() throws {
        try TestFileSystem.with(.init()) { testFS in
            try Self.small(testFS)
            let open = testFS.directory + "/open"
            try FileManager.default.createDirectory(atPath: open, withIntermediateDirectories: false)
            chmod(open, 0o777)
            let refused = try ScrubRun.run("start", testFS, stateDirectory: open)
            #expect(refused.status == 1)
            #expect(refused.errorOutput.contains("writable by other users"), "\(refused.errorOutput)")
            #expect(!FileManager.default.fileExists(atPath: open + "/scrub.json"), "nothing written there")

            let foreign = testFS.directory + "/foreign"
            try FileManager.default.createDirectory(
                atPath: foreign, withIntermediateDirectories: false, attributes: [.posixPermissions: 0o700])
            chown(foreign, 65534, 65534)
            let notOurs = try ScrubRun.run("start", testFS, stateDirectory: foreign)
            #expect(notOurs.status == 1 && notOurs.errorOutput.contains("owned by uid 65534"), "\(notOurs.errorOutput)")

            let parent = testFS.directory + "/shared"
            try FileManager.default.createDirectory(atPath: parent, withIntermediateDirectories: false)
            chmod(parent, 0o777)
            let underOpenParent = try ScrubRun.run("start", testFS, stateDirectory: parent + "/state")
            #expect(
                underOpenParent.status == 1 && underOpenParent.errorOutput.contains("a parent of the state directory"),
                "\(underOpenParent.errorOutput)")

            chmod(parent, 0o1777)
            let sticky = try ScrubRun.run("start", testFS, stateDirectory: parent + "/state")
            #expect(sticky.status == 0, "a sticky parent (like /tmp) is safe: \(sticky.errorOutput)")
        }
    }

    @Test("one scrub and one watcher per file system, whatever the state directory")
    func onePerFileSystem() throws {
        try TestFileSystem.with(.init(deviceSize: 1 << 30)) { testFS in
            for index in 0..<6 { try testFS.writeFile("d\(index)", size: 16 << 20, seed: UInt64(index + 1)) }
            try testFS.sync()
            let scrub = Process()
            scrub.executableURL = URL(fileURLWithPath: DuetBinary.path)
            scrub.arguments = ["scrub", "start", "--limit", "10M", "--state-dir", testFS.directory + "/a", testFS.mountPoint]
            scrub.standardOutput = FileHandle.nullDevice
            scrub.standardError = FileHandle.nullDevice
            try scrub.run()
            defer {
                kill(scrub.processIdentifier, SIGTERM)
                scrub.waitUntilExit()
            }
            let store = ScrubStateStore(directory: testFS.directory + "/a")
            try Eventually.wait(what: "the scrub to take its lock") { store.isLocked() }
            // While it runs, status shows how far it is and about how long is left.
            var progress = ""
            try Eventually.poll(timeout: 15, every: 0.1) {
                let status = try DuetBinary.run(["scrub", "status", "--state-dir", testFS.directory + "/a", testFS.mountPoint])
                progress = status.output.split(separator: "\n").first { $0.hasPrefix("Progress:") }.map(String.init) ?? ""
                return progress.contains(" left")
            }
            #expect(progress.contains("% done, about ") && progress.hasSuffix(" left"), "\(progress)")
            let second = try ScrubRun.run("start", testFS, stateDirectory: testFS.directory + "/b")
            #expect(second.status == 1)
            #expect(
                second.errorOutput.contains("already running") && second.errorOutput.contains("pid \(scrub.processIdentifier)"),
                "\(second.errorOutput)")
            #expect(second.errorOutput.split(separator: "\n").count == 1)

            // The scrub holds the ledger in a: the first watcher keeps its own in c.
            let watch = try WatchProcess(testFS, state: testFS.directory + "/c")
            defer { watch.stop() }
            #expect(watch.isRunning)
            // Bounded: a watcher that is wrongly let in would run until stopped.
            let otherWatch = try Command.execute([
                "timeout", "20", DuetBinary.path, "watch", "--source", "cachestat",
                "--state-dir", testFS.directory + "/b", testFS.mountPoint
            ])
            #expect(otherWatch.status == 1)
            #expect(
                otherWatch.errorOutput.contains("a watch of file system") && otherWatch.errorOutput.contains("already running"),
                "\(otherWatch.errorOutput)")
        }
    }

    @Test("--limit 1K: SIGTERM stops the scrub at once with exit 5, its progress saved")
    func stoppableAtAnyRate() throws {
        try TestFileSystem.with(.init()) { testFS in
            try Self.small(testFS)
            let state = ScrubRun.stateDirectory(testFS)
            let scrub = Process()
            scrub.executableURL = URL(fileURLWithPath: DuetBinary.path)
            scrub.arguments = ["scrub", "start", "--limit", "1K", "--state-dir", state, testFS.mountPoint]
            let errors = Pipe()
            scrub.standardOutput = FileHandle.nullDevice
            scrub.standardError = errors
            try scrub.run()
            let store = ScrubStateStore(directory: state)
            try Eventually.wait(what: "the scrub to record that it runs") { (try? store.load())?.status == .running }
            // Not a wait on a condition: nothing shows from outside that the scrub is inside the
            // first read's throttle wait (a 4 MiB read owes over an hour at 1 KiB/s); it is there
            // soon after it records that it runs, and a SIGTERM must stop it anywhere anyway.
            usleep(500_000)
            let sent = Date()
            kill(scrub.processIdentifier, SIGTERM)
            let exited = DispatchSemaphore(value: 0)
            DispatchQueue.global().async {
                scrub.waitUntilExit()
                exited.signal()
            }
            let inTime = exited.wait(timeout: .now() + 20) == .success
            if !inTime { kill(scrub.processIdentifier, SIGKILL) }
            let seconds = Date().timeIntervalSince(sent)
            print("scrub --limit 1K: exited \(String(format: "%.2f", seconds)) s after SIGTERM")
            try #require(inTime, "the scrub ignored SIGTERM for 20 s")
            #expect(scrub.terminationStatus == 5)
            #expect(try store.load()?.status == .interrupted)
            let message = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            #expect(message.contains("duet scrub resume"), "says how to resume: \(message)")
        }
    }

    @Test("sizes as users type them; overflow is a usage error, never a crash")
    func sizeParsing() throws {
        for bad in ["99999999999T", "18446744073709551616", "1.2.3M", "fast", "-5M", "0"] {
            let result = try DuetBinary.run(["scrub", "start", "--limit", bad, "/"])
            #expect(result.status == 1 && result.errorOutput.contains("--limit"), "\(bad): \(result.status) \(result.errorOutput)")
        }
        let hugeInFlight = try DuetBinary.run(["scrub", "start", "--in-flight", "10E", "/"])
        #expect(hugeInFlight.status == 1 && hugeInFlight.errorOutput.contains("--in-flight"))
        let hugePeriod = try DuetBinary.run(["scrub", "start", "--period", "999999999999999999999d", "/"])
        #expect(hugePeriod.status == 1 && hugePeriod.errorOutput.contains("--period"))
        try TestFileSystem.with(.init()) { testFS in
            try Self.small(testFS)
            for good in ["1.5G", "100MiB", "200M/s", "65536k"] {
                let outcome = try ScrubRun.run("start", testFS, stateDirectory: ScrubRun.stateDirectory(testFS), ["--limit", good])
                #expect(outcome.status == 0, "\(good): \(outcome.errorOutput)")
            }
        }
    }

    @Test("--metrics-dir: checked before the scrub, created when its parent exists, 0644, with the last success")
    func metricsDirectory() throws {
        try TestFileSystem.with(.init()) { testFS in
            try Self.small(testFS)
            let state = ScrubRun.stateDirectory(testFS)
            let missingParent = try ScrubRun.run(
                "start", testFS, stateDirectory: state, ["--metrics-dir", testFS.directory + "/no/such/dir"])
            #expect(missingParent.status == 1 && missingParent.errorOutput.contains("--metrics-dir"), "\(missingParent.errorOutput)")
            #expect(!FileManager.default.fileExists(atPath: state + "/scrub.json"), "refused before the scrub started")

            let metrics = testFS.directory + "/metrics"
            let outcome = try ScrubRun.run("start", testFS, stateDirectory: state, ["--metrics-dir", metrics])
            let record = try #require(outcome.record, "\(outcome.errorOutput)")
            #expect(outcome.status == 0)
            let file = "\(metrics)/duet_scrub_\(record.uuid).prom"
            var info = stat()
            #expect(stat(file, &info) == 0 && info.st_mode & 0o777 == 0o644, "readable by the node exporter's user")
            let text = try String(contentsOfFile: file, encoding: .utf8)
            let success = try #require(record.lastSuccessAt)
            let line = try #require(
                text.split(separator: "\n").first { $0.hasPrefix("duet_scrub_last_success_timestamp_seconds{uuid=\"\(record.uuid)\"} ") })
            let value = try #require(Double(line.split(separator: " ").last ?? ""))
            #expect(abs(value - success.timeIntervalSince1970) < 1, "\(line) vs \(success)")
        }
    }

    @Test("a damaged scrub.json: start moves it aside with a warning and scrubs; resume refuses")
    func damagedRecord() throws {
        try TestFileSystem.with(.init()) { testFS in
            try Self.small(testFS)
            let state = ScrubRun.stateDirectory(testFS)
            try FileManager.default.createDirectory(
                atPath: state, withIntermediateDirectories: false, attributes: [.posixPermissions: 0o700])
            try Data("{\"version\": 1, \"fsid\": ".utf8).write(to: URL(fileURLWithPath: state + "/scrub.json"))
            let resume = try ScrubRun.run("resume", testFS, stateDirectory: state)
            #expect(resume.status == 1 && resume.errorOutput.contains("damaged"), "\(resume.errorOutput)")
            let start = try ScrubRun.run("start", testFS, stateDirectory: state)
            #expect(start.status == 0, "\(start.errorOutput)")
            #expect(start.errorOutput.contains("warning") && start.errorOutput.contains("moved it to"), "\(start.errorOutput)")
            let names = try FileManager.default.contentsOfDirectory(atPath: state)
            #expect(names.contains { $0.hasPrefix("scrub.json.damaged-") })
            #expect(try ScrubStateStore(directory: state).load()?.status == .finished)
        }
    }

    @Test("an incomplete scrub ran to its end: resume has nothing to continue (exit 2), start scrubs anew")
    func incompleteIsNotResumed() throws {
        try TestFileSystem.with(.init()) { testFS in
            try Self.small(testFS)
            let state = ScrubRun.stateDirectory(testFS)
            let store = ScrubStateStore(directory: state)
            #expect(try ScrubRun.run("start", testFS, stateDirectory: state).status == 0)
            var record = try #require(try store.load())
            record.status = .incomplete
            record.coverageGaps = [CoverageGap(deviceID: 1, devicePath: "/dev/x", plannedBytes: 100, coveredBytes: 50)]
            try store.save(record)
            let status = try DuetBinary.run(["scrub", "status", "--state-dir", state, testFS.mountPoint])
            #expect(status.output.contains("not covered: device 1 (/dev/x): 50 bytes of 100 planned were neither verified nor skipped"))
            #expect(status.output.contains("scrub incomplete"))
            #expect(try ScrubRun.run("resume", testFS, stateDirectory: state).status == 2)
            let again = try ScrubRun.run("start", testFS, stateDirectory: state)
            #expect(again.status == 0 && again.record?.status == .finished)
            #expect(again.record?.counters.verified == record.counters.verified, "counted once")
        }
    }

    @Test("a damaged ledger journal is reported with how many credits it lost")
    func damagedJournalWarns() throws {
        try TestFileSystem.with(.init(dataProfile: .single)) { testFS in
            try Self.small(testFS)
            let state = ScrubRun.stateDirectory(testFS)
            #expect(try ScrubRun.run("start", testFS, stateDirectory: state).status == 0)
            // Damage the journal's header: its records can no longer be replayed.
            let journal = state + "/journal"
            var bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: journal)))
            for index in 0..<8 { bytes[index] ^= 0xFF }
            try Data(bytes).write(to: URL(fileURLWithPath: journal))
            let records = (bytes.count - 64) / 40
            #expect(records > 0)
            let again = try ScrubRun.run("start", testFS, stateDirectory: state)
            #expect(again.status == 0)
            #expect(
                again.errorOutput.contains("warning: ledger journal") && again.errorOutput.contains("its \(records) records were dropped"),
                "\(again.errorOutput)")
        }
    }
}

/// A `duet watch` on one file system (cachestat source: no eBPF needed) until `stop`.
final class WatchProcess {
    private let process = Process()

    init(_ testFS: TestFileSystem, state: String) throws {
        process.executableURL = URL(fileURLWithPath: DuetBinary.path)
        process.arguments = ["watch", "--source", "cachestat", "--state-dir", state, testFS.mountPoint]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        // Running once its status file names it.
        do {
            try Eventually.wait(what: "duet watch to name itself in \(state)/watch.json") {
                if let data = try? AtomicFile.read(state + "/watch.json"),
                    String(decoding: data, as: UTF8.self).contains("\"pid\":\(process.processIdentifier)")
                {
                    return true
                }
                return !process.isRunning
            }
        } catch {
            stop()
            throw error
        }
    }

    var isRunning: Bool { process.isRunning }

    func stop() {
        guard process.isRunning else { return }
        kill(process.processIdentifier, SIGTERM)
        process.waitUntilExit()
    }
}

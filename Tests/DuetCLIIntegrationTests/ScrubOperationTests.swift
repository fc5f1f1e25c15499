import DuetFS
import DuetScrub
import DuetTestSupport
import Foundation
import Testing

/// Running a scrub as an administrator does: alongside writers, killed and resumed, with bad input.
@Suite(.enabled(if: IntegrationGate.enabled), .serialized)
struct ScrubOperationTests {
    @Test("a scrub while another process writes, overwrites, deletes and snapshots reports no errors")
    func liveFileSystemHasNoFalseAlarms() throws {
        try TestFileSystem.with(.init(deviceSize: 1 << 30, metadataProfile: .dup)) { testFS in
            try testFS.createSubvolume("live")
            for index in 0..<8 { try testFS.writeFile("live/seed\(index)", size: 4 << 20, seed: UInt64(index)) }
            try testFS.sync()
            let script = """
                set -u; cd '\(testFS.path("live"))'; i=0
                while [ ! -e '\(testFS.directory)/stop' ]; do
                  i=$((i+1))
                  head -c $(( (i % 7 + 1) * 131072 )) /dev/urandom > f$((i % 23))
                  dd if=/dev/urandom of=seed$((i % 8)) bs=4096 count=8 seek=$((i % 900)) conv=notrunc status=none
                  rm -f f$(((i + 11) % 23))
                  if [ $((i % 40)) -eq 0 ]; then btrfs -q subvolume snapshot -r . ../snap$i; fi
                  if [ $((i % 80)) -eq 0 ]; then btrfs -q subvolume delete ../snap$((i - 40)) 2>/dev/null || true; sync; fi
                done
                """
            let writer = Process()
            writer.executableURL = URL(fileURLWithPath: "/bin/bash")
            writer.arguments = ["-c", script]
            try writer.run()
            defer {
                FileManager.default.createFile(atPath: testFS.directory + "/stop", contents: nil)
                writer.waitUntilExit()
            }
            // Let the writer get going: its first snapshot exists after 40 rounds.
            try Eventually.wait(what: "the writer to get going (its snapshot snap40)") {
                FileManager.default.fileExists(atPath: testFS.path("snap40"))
            }
            for run in 0..<4 {
                #expect(writer.isRunning, "the writer must be busy during every scrub")
                let outcome = try ScrubRun.run("start", testFS, stateDirectory: ScrubRun.stateDirectory(testFS), ["--full"])
                let record = try #require(outcome.record, "run \(run): \(outcome.errorOutput)")
                #expect(outcome.status == 0, "run \(run): \(record.findings.map(\.summary))")
                #expect(record.counters.errors == 0)
                #expect(record.counters.dataVerified > 0)
            }
        }
    }

    @Test("kill -9 mid-scrub, then resume: completes, and the verified total equals the plan")
    func resumesAfterKill() throws {
        try TestFileSystem.with(.init(deviceSize: 1 << 30)) { testFS in
            for index in 0..<12 { try testFS.writeFile("data\(index)", size: 16 << 20, seed: UInt64(index)) }
            try testFS.sync()
            let state = ScrubRun.stateDirectory(testFS)
            let reference = try #require(try ScrubRun.run("start", testFS, stateDirectory: state + "-reference", ["--full"]).record)

            let scrub = Process()
            scrub.executableURL = URL(fileURLWithPath: DuetBinary.path)
            scrub.arguments = ["scrub", "start", "--full", "--limit", "40M", "--state-dir", state, testFS.mountPoint]
            scrub.standardOutput = FileHandle.nullDevice
            try scrub.run()
            // Wait for a checkpoint that shows progress, then kill without warning.
            let store = ScrubStateStore(directory: state)
            let progressed = Eventually.poll(timeout: 20, every: 0.1) {
                guard let record = try? store.load() else { return false }
                return record.counters.dataVerified > 0
            }
            kill(scrub.processIdentifier, SIGKILL)
            scrub.waitUntilExit()
            #expect(progressed, "no checkpoint with progress within 20 s")

            let status = try DuetBinary.run(["scrub", "status", "--json", "--state-dir", state, testFS.mountPoint])
            #expect(status.output.contains("\"status\" : \"interrupted\""))
            let interrupted = try #require(try store.load())
            #expect(interrupted.counters.verified < reference.counters.verified, "the kill came too late to test resume")

            let resumed = try ScrubRun.run("resume", testFS, stateDirectory: state)
            let record = try #require(resumed.record, "\(resumed.errorOutput)")
            #expect(resumed.status == 0)
            #expect(record.status == .finished)
            #expect(record.counters.dataVerified == reference.counters.dataVerified)
            #expect(record.counters.treeVerified == reference.counters.treeVerified)
            #expect(record.counters.superblocksVerified == reference.counters.superblocksVerified)

            let again = try ScrubRun.run("resume", testFS, stateDirectory: state)
            #expect(again.status == 2, "nothing left to resume")
        }
    }

    @Test("SIGTERM and SIGINT save progress, exit 5 and say how to resume; status shows progress and time left; a second scrub is refused")
    func signalsAndLock() throws {
        try TestFileSystem.with(.init(deviceSize: 1 << 30)) { testFS in
            for index in 0..<8 { try testFS.writeFile("data\(index)", size: 16 << 20, seed: UInt64(index)) }
            try testFS.sync()
            let state = ScrubRun.stateDirectory(testFS)
            let store = ScrubStateStore(directory: state)
            /// A scrub at 20 MiB/s (about 6 s for this file system), its stderr kept.
            func startScrub(_ subcommand: String) throws -> (Process, Pipe) {
                let scrub = Process()
                scrub.executableURL = URL(fileURLWithPath: DuetBinary.path)
                scrub.arguments = [
                    "scrub", subcommand, "--limit", "20M", "--checkpoint-interval", "0.2", "--state-dir", state, testFS.mountPoint
                ]
                scrub.standardOutput = FileHandle.nullDevice
                let errors = Pipe()
                scrub.standardError = errors
                try scrub.run()
                try Eventually.wait(what: "the scrub to take its lock") { store.isLocked() }
                return (scrub, errors)
            }
            let resumeHint = "`duet scrub resume \(testFS.mountPoint) --state-dir \(state)` continues it"

            let (scrub, errors) = try startScrub("start")
            let second = try ScrubRun.run("start", testFS, stateDirectory: state)
            #expect(second.status == 1)
            #expect(second.errorOutput.contains("already running"))
            #expect(second.errorOutput.split(separator: "\n").count == 1)

            // While it runs, status shows how far it got and the time left at its pace.
            Eventually.poll(timeout: 15, every: 0.1) {
                guard let record = try? store.load() else { return false }
                return record.counters.verified > 0 && record.elapsedSeconds > 1
            }
            let text = try DuetBinary.run(["scrub", "status", "--state-dir", state, testFS.mountPoint])
            let progress = try #require(text.output.split(separator: "\n").first { $0.hasPrefix("Progress:") }, "\(text.output)")
            #expect(progress.contains("% done, about ") && progress.hasSuffix(" left"), "\(progress)")
            let json = try DuetBinary.run(["scrub", "status", "--json", "--state-dir", state, testFS.mountPoint])
            let envelope = try #require(try JSONSerialization.jsonObject(with: Data(json.output.utf8)) as? [String: Any])
            #expect(envelope["version"] as? Int == 2)
            let result = try #require(envelope["result"] as? [String: Any])
            let percent = try #require(result["percentDone"] as? Double, "\(result)")
            #expect(percent > 0 && percent < 100)
            #expect((result["remainingSeconds"] as? Double ?? 0) > 0, "\(result)")
            #expect(result["uuid"] as? String == (try testFS.open().info().fsid.description) && result["fsid"] == nil, "\(result)")
            #expect(result["mountPath"] as? String == testFS.mountPoint)
            #expect((result["elapsedSeconds"] as? Double ?? 0) > 0 && result["ageSeconds"] is Double, "\(result)")

            // `scrub cancel` sends SIGTERM, as systemd does.
            let cancel = try DuetBinary.run(["scrub", "cancel", "--state-dir", state, testFS.mountPoint])
            #expect(cancel.status == 0, "\(cancel.errorOutput)")
            scrub.waitUntilExit()
            #expect(scrub.terminationStatus == 5)
            #expect(try store.load()?.status == .interrupted)
            let afterTerm = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            #expect(afterTerm.contains("scrub interrupted; progress saved: \(resumeHint)"), "\(afterTerm)")

            // Ctrl-C (SIGINT) of a resumed scrub: the same.
            let (resumed, resumedErrors) = try startScrub("resume")
            try Eventually.wait(what: "the resumed scrub to record that it runs") {
                guard let record = try? store.load() else { return false }
                return record.pid == resumed.processIdentifier && record.status == .running
            }
            kill(resumed.processIdentifier, SIGINT)
            resumed.waitUntilExit()
            #expect(resumed.terminationStatus == 5)
            let afterInt = String(decoding: resumedErrors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            #expect(afterInt.contains("scrub interrupted; progress saved: \(resumeHint)"), "\(afterInt)")
            #expect(try store.load()?.status == .interrupted)
        }
    }

    @Test("RAID5 block groups are handed to the kernel scrub and counted")
    func parityGoesToKernel() throws {
        try TestFileSystem.with(.init(deviceCount: 3, deviceSize: 300 << 20, dataProfile: .raid5, metadataProfile: .raid1)) { testFS in
            try testFS.writeFile("data", size: 16 << 20)
            try testFS.sync()
            let outcome = try ScrubRun.run("start", testFS, stateDirectory: ScrubRun.stateDirectory(testFS))
            let record = try #require(outcome.record, "\(outcome.errorOutput)")
            #expect(outcome.status == 0)
            #expect(record.counters.parityKernelScrubbed >= 16 << 20)
            #expect(record.counters.dataVerified == 0, "Duet itself does not read RAID5 data")
            #expect(record.counters.treeVerified > 0, "RAID1 metadata is Duet's own")
        }
    }

    @Test("--metrics-dir writes a Prometheus textfile; --idle still completes on a quiet device")
    func metricsAndIdle() throws {
        try TestFileSystem.with(.init()) { testFS in
            try testFS.writeFile("data", size: 4 << 20)
            try testFS.sync()
            let metrics = testFS.directory + "/metrics"
            try FileManager.default.createDirectory(atPath: metrics, withIntermediateDirectories: false)
            let outcome = try ScrubRun.run(
                "start", testFS, stateDirectory: ScrubRun.stateDirectory(testFS), ["--idle", "--metrics-dir", metrics])
            let record = try #require(outcome.record)
            #expect(outcome.status == 0)
            let text = try String(contentsOfFile: "\(metrics)/duet_scrub_\(record.uuid).prom", encoding: .utf8)
            #expect(text.contains("# TYPE duet_scrub_verified_bytes gauge"))
            #expect(text.contains("duet_scrub_verified_bytes{uuid=\"\(record.uuid)\"} \(Double(record.counters.verified))"))
            #expect(text.contains("duet_scrub_finished{uuid=\"\(record.uuid)\"} 1.0"))
            #expect(
                text.contains("duet_scrub_deferred_seconds{uuid=\"\(record.uuid)\"} \(record.deferredSeconds ?? -1)"),
                "--idle records its waits")
            #expect(try FileManager.default.contentsOfDirectory(atPath: metrics).count == 1, "no temporary file left")
        }
    }

    @Test("--idle --deadline: on a device that is never idle, the scrub waits only while the deadline leaves room, then finishes")
    func idleWithDeadline() throws {
        try TestFileSystem.with(.init(deviceSize: 512 << 20, dataProfile: .single)) { testFS in
            for index in 0..<4 { try testFS.writeFile("d\(index)", size: 16 << 20, seed: UInt64(index + 60)) }
            try testFS.writeFile("busy", size: 64 << 20, seed: 69)
            try testFS.sync()
            try TestFileSystem.dropCaches()
            let busy = try BusyReader(file: testFS.path("busy"), seconds: 60)  // returns once reading
            defer { busy.stop() }
            // Without the deadline the first read alone would wait `IdleMonitor.maximumWait` (60 s).
            let outcome = try ScrubRun.run("start", testFS, stateDirectory: ScrubRun.stateDirectory(testFS), ["--idle", "--deadline", "8s"])
            let record = try #require(outcome.record)
            #expect(busy.isRunning, "the scrub finished while the device was still busy")
            #expect(outcome.status == 0 && record.status == .finished)
            let deferred = try #require(record.deferredSeconds)
            #expect(deferred >= 1, "it waited while the deadline left room: \(deferred) s")
            #expect(deferred <= 8.5, "no wait runs past the deadline (one device): \(deferred) s")
            #expect(record.counters.dataVerified >= 128 << 20)
            let status = try DuetBinary.run(["scrub", "status", "--state-dir", ScrubRun.stateDirectory(testFS), testFS.mountPoint])
            #expect(status.output.contains("Waited for idle devices"))
        }
    }

    @Test("bad input: one clear line and the documented exit code")
    func badInput() throws {
        let notBtrfs = try DuetBinary.run(["scrub", "start", "/proc"])
        #expect(notBtrfs.status == 1 && notBtrfs.errorOutput.contains("not on a btrfs file system"))
        let missing = try DuetBinary.run(["scrub", "start", "/nonexistent/duet"])
        #expect(missing.status == 1 && missing.errorOutput.contains("does not exist"))
        let badLimit = try DuetBinary.run(["scrub", "start", "--limit", "fast", "/"])
        #expect(badLimit.status == 1 && badLimit.errorOutput.contains("--limit"))
        let deadlineAlone = try DuetBinary.run(["scrub", "start", "--deadline", "6h", "/"])
        #expect(deadlineAlone.status == 1 && deadlineAlone.errorOutput.contains("--deadline applies to --idle"))
        let badDeadline = try DuetBinary.run(["scrub", "start", "--idle", "--deadline", "soon", "/"])
        #expect(badDeadline.status == 1 && badDeadline.errorOutput.contains("--deadline soon"))
        try TestFileSystem.with { testFS in
            let unprivileged = try DuetBinary.run(["scrub", "start", testFS.mountPoint], asUser: "65534")
            #expect(unprivileged.status == 1 && unprivileged.errorOutput.contains("needs root"))
            let unwritable = try ScrubRun.run("start", testFS, stateDirectory: "/proc/duet-state")
            #expect(unwritable.status == 1)
            #expect(unwritable.errorOutput.contains("/proc/duet-state") && unwritable.errorOutput.contains("--state-dir"))
            #expect(unwritable.errorOutput.split(separator: "\n").count == 1)
            let nothing = try ScrubRun.run("resume", testFS, stateDirectory: ScrubRun.stateDirectory(testFS))
            #expect(nothing.status == 2)
            let noStatus = try DuetBinary.run(["scrub", "status", "--state-dir", ScrubRun.stateDirectory(testFS), testFS.mountPoint])
            #expect(noStatus.status == 2)
        }
    }

    @Test("a scrub's own credits let a scrub within --period skip single-copy data, but not a default scrub")
    func ownCreditsAndPeriod() throws {
        try TestFileSystem.with(.init(deviceSize: 512 << 20, dataProfile: .single, metadataProfile: .dup)) { testFS in
            for index in 0..<4 { try testFS.writeFile("d\(index)", size: 8 << 20, seed: UInt64(index)) }
            try testFS.sync()
            let state = ScrubRun.stateDirectory(testFS)
            let first = try #require(try ScrubRun.run("start", testFS, stateDirectory: state).record)
            #expect(first.counters.skippedVerified == 0)
            let again = try #require(try ScrubRun.run("start", testFS, stateDirectory: state).record)
            #expect(again.counters.skippedVerified == 0, "a scrub's own credits must not excuse the next default scrub")
            let withinPeriod = try #require(try ScrubRun.run("start", testFS, stateDirectory: state, ["--period", "1h"]).record)
            #expect(withinPeriod.counters.skippedVerified == first.counters.dataVerified)
            #expect(withinPeriod.counters.dataVerified == 0)
            #expect(withinPeriod.counters.treeVerified == first.counters.treeVerified, "tree blocks (DUP) are never skipped")
            let full = try #require(try ScrubRun.run("start", testFS, stateDirectory: state, ["--full", "--period", "1h"]).record)
            #expect(full.counters.skippedVerified == 0)
        }
    }
}

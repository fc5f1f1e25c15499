import DuetScrub
import Foundation
import Testing

/// What `duet scrub status` derives from a saved record: progress, time left, and whether a
/// record that says running still has a scrub behind it.
@Suite struct ScrubProgressTests {
    @Test("done is verified plus skipped of the total; time left only while running")
    func progressAndTimeLeft() throws {
        let running = try ScrubOutcomeTests.record(.running)
        #expect(ScrubProgress.percentDone(running) == 50)
        #expect(ScrubProgress.remainingSeconds(running) == 40, "as long again at the same pace")
        #expect(ScrubProgress.remainingSeconds(try ScrubOutcomeTests.record(.interrupted)) == nil)
    }

    @Test("the live line's ETA follows the same rule: a pace needs a byte and a second, none once done")
    func liveTimeLeft() throws {
        let counters = try ScrubOutcomeTests.record(.running).counters
        #expect(ScrubProgress.remainingSeconds(counters, of: 1000, elapsed: 40) == 40, "500 of 1000 bytes in 40 s")
        #expect(ScrubProgress.remainingSeconds(counters, of: 1000, elapsed: 1) == nil, "no pace in the first second")
        #expect(ScrubProgress.remainingSeconds(ScrubCounters(), of: 1000, elapsed: 40) == nil, "no pace before the first byte")
        #expect(ScrubProgress.remainingSeconds(counters, of: 500, elapsed: 40) == nil, "nothing left")
        #expect(ScrubProgress.percentDone(counters, of: 0) == nil && ScrubProgress.remainingSeconds(counters, of: 0, elapsed: 40) == nil)
    }

    @Test("I/O saved is skipped of read plus skipped; the rate needs time; an age is never negative")
    func savedRateAndAge() throws {
        var record = try ScrubOutcomeTests.record(.finished)
        record.counters.deviceBytesRead = 300
        record.counters.skippedVerified = 100
        #expect(ScrubProgress.ioSavedPercent(record.counters) == 25)
        #expect(ScrubProgress.ioSavedPercent(ScrubCounters()) == 0, "nothing read or skipped: nothing saved")
        record.elapsedSeconds = 3
        #expect(ScrubProgress.readRate(record) == 100)
        record.elapsedSeconds = 0
        #expect(ScrubProgress.readRate(record) == nil)
        let now = Date(timeIntervalSince1970: 1000)
        #expect(ScrubProgress.age(of: Date(timeIntervalSince1970: 990), at: now) == 10)
        #expect(ScrubProgress.age(of: Date(timeIntervalSince1970: 1010), at: now) == 0, "a clock set back")
    }

    @Test("a record left running with no scrub holding the lock shows as interrupted")
    func staleRunningRecord() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("duet-scrub-status-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let reader = ScrubStateStore(directory: directory)
        #expect(try reader.loadForStatus() == nil)
        do {
            let scrub = ScrubStateStore(directory: directory)
            try scrub.lock()
            try scrub.save(try ScrubOutcomeTests.record(.running))
            #expect(try reader.loadForStatus()?.status == .running, "a scrub holds the lock")
            withExtendedLifetime(scrub) {}
        }
        // The scrub's store is gone, and its lock with it, as when the process is killed.
        #expect(try reader.loadForStatus()?.status == .interrupted)
        #expect(try reader.load()?.status == .running, "the saved record itself is left as it is")
    }
}

import DuetFS
import Foundation
import Testing

@Suite("--idle --deadline: how long a deferring task may still wait")
struct IdleDeadlineTests {
    let start = Date(timeIntervalSince1970: 1_000_000)
    let mib: UInt64 = 1 << 20

    @Test("before its own rate is measured, the work is projected at the assumed rate, with the margin")
    func assumedRate() {
        let deadline = IdleDeadline(end: start.addingTimeInterval(100), now: start)
        // 1000 MiB at 50 MiB/s is 20 s, 24 s with the margin: 76 s to spare.
        #expect(abs(deadline.slack(remaining: 1000 * mib, now: start) - 76) < 1e-9)
        // Work too small to measure does not replace the assumption.
        deadline.recordWork(8 * mib)
        #expect(abs(deadline.slack(remaining: 1000 * mib, now: start.addingTimeInterval(10)) - 66) < 1e-9)
    }

    @Test("a burst inside the first second is no pace yet: the assumed rate still projects the rest")
    func burstInTheFirstSecond() {
        let deadline = IdleDeadline(end: start.addingTimeInterval(100), now: start)
        // 64 MiB (more than measuredEnough) in half a second would be 128 MiB/s and 90.1 s to
        // spare; at the assumed 50 MiB/s, 1000 MiB need 24 s with the margin: 75.5 s of 99.5.
        deadline.recordWork(64 * mib)
        #expect(abs(deadline.slack(remaining: 1000 * mib, now: start.addingTimeInterval(0.5)) - 75.5) < 1e-9)
    }

    @Test("once measured, the task's pace so far, waits included, projects the rest")
    func measuredPace() {
        let deadline = IdleDeadline(end: start.addingTimeInterval(300), now: start)
        // 100 s in all (however much of it waiting): 1000 MiB done is 10 MiB/s.
        deadline.recordWork(1000 * mib)
        let now = start.addingTimeInterval(100)
        // 1000 MiB more at 10 MiB/s is 100 s, 120 s with the margin; 200 s are left: 80 s to spare.
        #expect(abs(deadline.slack(remaining: 1000 * mib, now: now) - 80) < 1e-9)
        // Twice the work left leaves no room: the task must work on.
        #expect(deadline.slack(remaining: 2000 * mib, now: now) == 0)
        // Waiting lowers the pace, and with it the room: 20 s later (1000 MiB in 120 s is 8.33 MiB/s,
        // 1000 MiB need 144 s with the margin, 180 s are left) 36 s to spare, not 80 - 20.
        #expect(abs(deadline.slack(remaining: 1000 * mib, now: now.addingTimeInterval(20)) - 36) < 1e-9)
    }

    @Test("nothing left to wait past the deadline, however little work remains")
    func pastTheDeadline() {
        let deadline = IdleDeadline(end: start.addingTimeInterval(10), now: start)
        #expect(deadline.slack(remaining: 0, now: start.addingTimeInterval(11)) == 0)
        #expect(deadline.slack(remaining: 0, now: start.addingTimeInterval(4)) == 6)
    }
}

import DuetFS
import Foundation

extension ScrubStateStore {
    /// What `cancelRunning` found and did.
    public enum CancelOutcome: Equatable, Sendable {
        /// No process holds the lock, or the record does not say running: nothing was signalled.
        case notRunning
        /// The scrub process let go of the lock after SIGTERM (it saved its progress first).
        case stopped(pid: Int32)
        /// The process was signalled but still held the lock when `timeout` ran out.
        case stillRunning(pid: Int32)
    }

    /// How long `cancelRunning` waits by default; the CLI's message names it.
    public static let cancelTimeout: TimeInterval = 60

    /// `duet scrub cancel`: sends SIGTERM to the scrub named by the record and waits for it to
    /// release the lock. The lock, not the pid, says when it is done: the scrub saves its record
    /// before it lets go, so a `resume` right after finds the saved cursors.
    public func cancelRunning(timeout: TimeInterval = cancelTimeout, pollInterval: TimeInterval = 0.1) throws -> CancelOutcome {
        guard isLocked(), let record = try load(), record.status == .running else { return .notRunning }
        guard kill(record.pid, SIGTERM) == 0 else { throw DuetError.system("kill (SIGTERM)", "pid \(record.pid)") }
        let polls = Int((timeout / pollInterval).rounded(.up))
        for _ in 0..<polls where isLocked() { usleep(UInt32(pollInterval * 1_000_000)) }
        return isLocked() ? .stillRunning(pid: record.pid) : .stopped(pid: record.pid)
    }
}

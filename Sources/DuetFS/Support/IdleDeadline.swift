import Foundation
import Synchronization

/// `--deadline` of the tools that defer to the foreground (`--idle`): they wait for an idle
/// device only while they can still finish by the deadline. On a device that is never idle,
/// `--idle` alone progresses one read per `IdleMonitor.maximumWait`; an administrator with a
/// maintenance window needs the work done by its end.
///
/// The time the remaining work needs is projected from the task's pace so far, waits included
/// (work passed over without a read counts, as it does in what remains), plus `margin` of it;
/// until `measuredEnough` bytes over at least a second are done, from `assumedRate`. A task that
/// waited much projects long and waits less: it keeps a pace that ends before the deadline. (A
/// rate over the time it did not wait went wrong: reads in flight complete during the waits, so
/// that time was near zero and the projection near nothing.) Once the projection leaves no room,
/// the task works on as without `--idle`, and waits again when it gets ahead. It never stops at
/// the deadline: a task that cannot make it finishes late (a scrub stopped there resumes later).
///
/// One instance per stream of work that waits on its own (a scrub's device): the pace of
/// parallel streams would otherwise be summed.
public final class IdleDeadline: Sendable {
    public let end: Date
    /// A slow hard disk's sequential read: the rate assumed before the task has measured its own.
    public static let assumedRate: Double = 50 * 1_048_576
    public static let measuredEnough: UInt64 = 16 << 20
    /// Kept in hand beyond the projected time, as a share of it: the pace may fall.
    public static let margin = 0.2

    private let started: Date
    /// Bytes of work done so far.
    private let done = Atomic<UInt64>(0)

    public init(end: Date, now: Date = Date()) {
        self.end = end
        started = now
    }

    /// Seconds the task may still wait before its `remaining` bytes of work must start; 0 when
    /// it must work on.
    public func slack(remaining: UInt64, now: Date = Date()) -> TimeInterval {
        let done = done.load(ordering: .relaxed)
        let elapsed = now.timeIntervalSince(started)
        let rate = done >= Self.measuredEnough && elapsed >= 1 ? Double(done) / elapsed : Self.assumedRate
        let needed = Double(remaining) / rate * (1 + Self.margin)
        return max(end.timeIntervalSince(now) - needed, 0)
    }

    /// Counts `bytes` of work done (read, or passed over as not needing a read).
    public func recordWork(_ bytes: UInt64) {
        done.add(bytes, ordering: .relaxed)
    }
}

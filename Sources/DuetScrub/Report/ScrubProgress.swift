import Foundation

/// How far a scrub got, from its last checkpoint: the numbers behind the "Progress" line and
/// the `percentDone` and `remainingSeconds` of `--json`.
public enum ScrubProgress {
    /// Verified and skipped bytes as a share of the total to scrub, 0 to 100.
    public static func percentDone(_ record: ScrubRecord) -> Double? {
        guard record.totalToScrubBytes > 0 else { return nil }
        let done = record.counters.verified + record.counters.skippedVerified
        return min(1, Double(done) / Double(record.totalToScrubBytes)) * 100
    }

    /// While running: the time left at the pace so far (none before the first second or byte).
    public static func remainingSeconds(_ record: ScrubRecord) -> Double? {
        guard record.status == .running, let percent = percentDone(record), percent > 0, percent < 100,
              record.elapsedSeconds > 1 else { return nil }
        let share = percent / 100
        return record.elapsedSeconds / share * (1 - share)
    }
}

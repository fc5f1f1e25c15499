import Foundation

/// How far a scrub got: the numbers behind the "Progress" line, the `percentDone` and
/// `remainingSeconds` of `--json` (from the last checkpoint), and the live progress line on a
/// terminal (from the running scrub's counters). One rule for all of them.
public enum ScrubProgress {
    /// Verified and skipped bytes as a share of the total to scrub, 0 to 100.
    public static func percentDone(_ record: ScrubRecord) -> Double? {
        percentDone(record.counters, of: record.totalToScrubBytes)
    }

    /// While running: the time left at the pace so far (none before the first second or byte).
    public static func remainingSeconds(_ record: ScrubRecord) -> Double? {
        guard record.status == .running else { return nil }
        return remainingSeconds(record.counters, of: record.totalToScrubBytes, elapsed: record.elapsedSeconds)
    }

    /// Verified and skipped bytes as a share of `total`, 0 to 100; nil while there is no total.
    public static func percentDone(_ counters: ScrubCounters, of total: UInt64) -> Double? {
        guard total > 0 else { return nil }
        let done = counters.verified + counters.skippedVerified
        return min(1, Double(done) / Double(total)) * 100
    }

    /// The rest of `total` at the pace of `counters` over `elapsed` seconds: none before the
    /// first second or byte (no pace yet), nor once done.
    public static func remainingSeconds(_ counters: ScrubCounters, of total: UInt64, elapsed: TimeInterval) -> Double? {
        guard let percent = percentDone(counters, of: total), percent > 0, percent < 100, elapsed > 1 else { return nil }
        let share = percent / 100
        return elapsed / share * (1 - share)
    }

    /// Skipped bytes (verified by foreground reads) as a share of what a full scrub would have
    /// read so far, 0 to 100: "I/O saved vs a full scrub".
    public static func ioSavedPercent(_ counters: ScrubCounters) -> Double {
        let full = counters.deviceBytesRead + counters.skippedVerified
        return full > 0 ? Double(counters.skippedVerified) / Double(full) * 100 : 0
    }

    /// Bytes read from the devices per second of the scrub's own time; nil before any time.
    public static func readRate(_ record: ScrubRecord) -> UInt64? {
        guard record.elapsedSeconds > 0 else { return nil }
        return UInt64(Double(record.counters.deviceBytesRead) / record.elapsedSeconds)
    }

    /// Seconds since `date` at `now`, never negative (a clock set back reads as 0).
    public static func age(of date: Date, at now: Date) -> Double {
        max(0, now.timeIntervalSince(date))
    }
}

import DuetFS
import Foundation

/// Bytes the ledger credits with a verification between `minAgeSeconds` and `maxAgeSeconds`
/// ago (none: no upper bound); `age` says the same in words (`duet status`).
public struct LedgerCoverage: Codable, Sendable, Equatable {
    public var age: String
    public var minAgeSeconds: UInt64
    public var maxAgeSeconds: UInt64?
    public var verifiedBytes: UInt64

    public init(age: String, minAgeSeconds: UInt64, maxAgeSeconds: UInt64?, verifiedBytes: UInt64) {
        self.age = age
        self.minAgeSeconds = minAgeSeconds
        self.maxAgeSeconds = maxAgeSeconds
        self.verifiedBytes = verifiedBytes
    }

    /// The bands `duet status` shows, youngest first; the last has no upper bound.
    static let bands: [(label: String, seconds: UInt64)] = [
        ("1 hour", 3600), ("1 day", 86400), ("7 days", 7 * 86400), ("30 days", 30 * 86400), ("older", .max)
    ]

    /// Credited bytes per age band at `now` (seconds since the epoch). `verifiedSince(t)` gives
    /// the bytes credited at or after `t`; each band is the difference of two of those totals.
    public static func byAge(now: UInt64, verifiedSince: (UInt64) -> UInt64) -> [LedgerCoverage] {
        var coverage: [LedgerCoverage] = []
        var previous: UInt64 = 0
        var previousAge: UInt64 = 0
        for (label, age) in bands {
            let since = age == .max ? 0 : now - min(age, now)
            let total = verifiedSince(since)
            coverage.append(
                .init(
                    age: "within \(label)".replacingOccurrences(of: "within older", with: "older"), minAgeSeconds: previousAge,
                    maxAgeSeconds: age == .max ? nil : age, verifiedBytes: total - previous))
            previous = total
            previousAge = age
        }
        return coverage
    }

    /// `byAge` over `ledger`'s credits.
    public static func byAge(of ledger: Ledger, now: Date) -> [LedgerCoverage] {
        byAge(now: UInt64(now.timeIntervalSince1970)) { since in
            ledger.credits(since: since).reduce(UInt64(0)) { $0 + ($1.range.upperBound - $1.range.lowerBound) }
        }
    }
}

import Foundation

/// The time a complete scrub is recorded at in the ledger. Credits carry whole seconds and the
/// next default scrub skips those at or after the completion. Recording the current second would
/// let this scrub's own credits of that second excuse the next scrub; recording the next second
/// (as before) ignored credits made later in the same second (a send right after the scrub). So
/// the scrub waits for the next whole second and records it: every credit of its own is older,
/// every credit made after it is at least as new.
enum CompletionTime {
    static func afterOwnCredits(now: () -> Date = Date.init, sleep: (TimeInterval) -> Void = { Thread.sleep(forTimeInterval: $0) })
        -> UInt64
    {
        let started = now().timeIntervalSince1970
        let next = UInt64(started) + 1
        // A clock stepped back meanwhile keeps it waiting no longer than a second more.
        for _ in 0..<20 {
            let left = TimeInterval(next) - now().timeIntervalSince1970
            guard left > 0 else { break }
            sleep(min(left, 0.1))
        }
        return next
    }
}

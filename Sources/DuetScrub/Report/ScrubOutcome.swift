/// How a scrub ended, in the terms of its exit status (DESIGN §5): the CLI maps each case to
/// a code, so scripts and the record agree on what "clean" means.
public enum ScrubOutcome: Sendable, Equatable {
    case clean
    /// Errors remain: found and not repaired (no `--repair`), or uncorrectable.
    case uncorrectableErrors
    case correctedErrors
    /// Cancelled or killed: progress saved for `duet scrub resume`.
    case interrupted
    /// Ran to its end but left planned data neither verified nor skipped: never "clean".
    case incomplete

    public init(_ record: ScrubRecord) {
        switch record.status {
        case .incomplete: self = .incomplete
        case .running, .interrupted: self = .interrupted
        case .finished:
            if record.counters.errors == 0 {
                self = .clean
            } else {
                // Corrected only when a repair ran and left none: no repair leaves every error.
                self = record.uncorrectable == 0 ? .correctedErrors : .uncorrectableErrors
            }
        }
    }
}

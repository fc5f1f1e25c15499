extension ScrubRecord {
    /// Whether `--repair` has work: only a finished scrub has looked at every copy, so only
    /// its findings are the whole list (an interrupted one is repaired after its resume).
    public var hasFindingsToRepair: Bool { status == .finished && !findings.isEmpty }

    /// Errors still on disk: every one found, unless a repair counted those it could not correct.
    public var remainingErrors: UInt64 { uncorrectable ?? counters.errors }

    /// Takes the findings as the repair left them, with its tally.
    public mutating func recordRepair(_ repaired: [ScrubFinding]) {
        let tally = RepairTally(repaired)
        findings = repaired
        corrected = tally.corrected
        uncorrectable = tally.uncorrectable
    }
}

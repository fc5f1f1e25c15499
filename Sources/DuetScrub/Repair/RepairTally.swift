/// What `--repair` achieved over a scrub's findings. A finding counts as corrected only when
/// its copy verified good again after the rewrite; one that was not re-verified stays
/// uncorrectable, so the tally never claims a fix it did not see.
public struct RepairTally: Sendable, Equatable {
    public var corrected: UInt64
    public var uncorrectable: UInt64

    public init(corrected: UInt64, uncorrectable: UInt64) {
        self.corrected = corrected
        self.uncorrectable = uncorrectable
    }

    /// Counts the findings as `Repairer.repair` returns them.
    public init(_ repaired: [ScrubFinding]) {
        let good = repaired.filter { $0.corrected == true }.count
        self.init(corrected: UInt64(good), uncorrectable: UInt64(repaired.count - good))
    }
}

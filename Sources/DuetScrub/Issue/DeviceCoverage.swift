/// What one run of a scrub set out to cover on a device and what it covered: the end-of-run
/// check behind "finished". Planned bytes are counted from the plan as it stood at the run's
/// cursor; covered bytes are those handed to a read (whatever the read found) or skipped on a
/// ledger credit. Below the run's starting cursor, earlier runs covered everything.
struct DeviceCoverage: Sendable, Equatable {
    var planned: UInt64 = 0
    var covered: UInt64 = 0
}

/// A device whose planned data a scrub neither read nor skipped: the scrub did not finish.
public struct CoverageGap: Codable, Sendable, Equatable {
    public var deviceID: UInt64
    public var devicePath: String
    /// Bytes the run had to cover on this device (from its starting cursor).
    public var plannedBytes: UInt64
    /// Bytes it read or skipped.
    public var coveredBytes: UInt64

    public init(deviceID: UInt64, devicePath: String, plannedBytes: UInt64, coveredBytes: UInt64) {
        self.deviceID = deviceID
        self.devicePath = devicePath
        self.plannedBytes = plannedBytes
        self.coveredBytes = coveredBytes
    }

    public var summary: String {
        let missing = plannedBytes > coveredBytes ? plannedBytes - coveredBytes : 0
        return "device \(deviceID) (\(devicePath)): \(missing) bytes of \(plannedBytes) planned were neither verified nor skipped"
            + (coveredBytes > plannedBytes ? " (\(coveredBytes - plannedBytes) bytes covered beyond the plan)" : "")
    }
}

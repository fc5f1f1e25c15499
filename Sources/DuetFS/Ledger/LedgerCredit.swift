/// A verified logical byte range: read from disk and checked against its checksums at `time`
/// (seconds since the Unix epoch) while the extent there had `generation`.
public struct LedgerCredit: Hashable, Sendable, CustomStringConvertible {
    public var range: Range<UInt64>
    public var generation: UInt64
    public var time: UInt64

    public init(range: Range<UInt64>, generation: UInt64, time: UInt64) {
        self.range = range
        self.generation = generation
        self.time = time
    }

    public var description: String { "\(range.lowerBound)..<\(range.upperBound) gen \(generation) at \(time)" }
}

/// An extent as it is now: its logical byte range and its generation.
public struct ExtentGeneration: Hashable, Sendable {
    public var range: Range<UInt64>
    public var generation: UInt64

    public init(range: Range<UInt64>, generation: UInt64) {
        self.range = range
        self.generation = generation
    }
}

/// Tells the current generation of the extents at logical addresses, so that a credit given to
/// an extent since replaced (a new extent at the same address has a new generation) is void,
/// even when the rewrite happened while no watcher was running to void it. The btrfs layer
/// implements it from the extent tree (data extents and tree blocks).
public protocol ExtentGenerationLookup {
    /// The extents overlapping `range`, ascending. An address inside none of them holds no
    /// extent now, and any credit there is void.
    func extents(overlapping range: Range<UInt64>) throws -> [ExtentGeneration]
}

/// An `ExtentGenerationLookup` from a closure, for tests and small adapters.
public struct ClosureExtentGenerationLookup: ExtentGenerationLookup {
    private let body: (Range<UInt64>) throws -> [ExtentGeneration]

    public init(_ body: @escaping (Range<UInt64>) throws -> [ExtentGeneration]) { self.body = body }

    public func extents(overlapping range: Range<UInt64>) throws -> [ExtentGeneration] { try body(range) }
}

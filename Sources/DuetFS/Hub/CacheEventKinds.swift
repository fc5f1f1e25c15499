/// A set of event kinds as one byte: a task's event mask, and the state a pending item carries.
/// A byte per page is what the original framework kept per task, and it is enough for six kinds.
public struct CacheEventKinds: OptionSet, Hashable, Sendable, CustomStringConvertible {
    public let rawValue: UInt8

    public init(rawValue: UInt8) { self.rawValue = rawValue }

    public init(_ kind: CacheEvent.Kind) { self.rawValue = 1 << (kind.rawValue - 1) }

    public static let added = CacheEventKinds(.added)
    public static let removed = CacheEventKinds(.removed)
    public static let dirtied = CacheEventKinds(.dirtied)
    public static let writebackStarted = CacheEventKinds(.writebackStarted)
    public static let writebackFinished = CacheEventKinds(.writebackFinished)
    public static let extentWritten = CacheEventKinds(.extentWritten)
    public static let all: CacheEventKinds = [.added, .removed, .dirtied, .writebackStarted, .writebackFinished, .extentWritten]

    public func contains(_ kind: CacheEvent.Kind) -> Bool { contains(CacheEventKinds(kind)) }

    public var kinds: [CacheEvent.Kind] { CacheEvent.Kind.allCases.filter { contains($0) } }

    public var description: String { "[" + kinds.map { "\($0)" }.joined(separator: ", ") + "]" }
}

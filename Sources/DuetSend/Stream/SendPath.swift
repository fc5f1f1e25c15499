import DuetFS

/// A path as the send stream carries it: bytes relative to the subvolume root, no NUL, no
/// leading slash; the empty path is the root itself.
///
/// Kept as bytes, not `String`, because Linux file names need not be UTF-8 and a rewritten
/// stream must name exactly the file the kernel named.
public struct SendPath: Hashable, Sendable, CustomStringConvertible, ExpressibleByStringLiteral {
    public var bytes: [UInt8]

    public init(bytes: [UInt8]) { self.bytes = bytes }
    public init(_ text: String) { self.bytes = Array(text.utf8) }
    public init(stringLiteral value: String) { self.init(value) }

    /// The subvolume root.
    public static let root = SendPath(bytes: [])

    /// The names from the root down; empty components (a doubled or trailing `/`) are skipped.
    public var components: [[UInt8]] {
        bytes.split(separator: UInt8(ascii: "/"), omittingEmptySubsequences: true).map { Array($0) }
    }

    public init(components: [[UInt8]]) {
        self.bytes = Array(components.joined(separator: [UInt8(ascii: "/")]))
    }

    public var isRoot: Bool { components.isEmpty }

    /// `path/name`.
    public func appending(_ name: [UInt8]) -> SendPath {
        SendPath(components: components + [name])
    }

    /// The text form, with bytes that are not UTF-8 shown as U+FFFD; for messages only.
    public var description: String { String(decoding: bytes, as: UTF8.self) }
}

/// A subvolume UUID as the stream carries it (`UUID`, `CLONE_UUID`): 16 raw bytes.
public struct SendUUID: Hashable, Sendable, CustomStringConvertible {
    public let bytes: [UInt8]

    public init?(bytes: [UInt8]) {
        guard bytes.count == 16 else { return nil }
        self.bytes = bytes
    }

    public var description: String { UUIDText.format(bytes) }
}

/// `struct btrfs_timespec`: le64 seconds and le32 nanoseconds.
public struct SendTimespec: Hashable, Sendable {
    /// Signed: the kernel stores `timespec64.tv_sec` bit for bit, and times before 1970 exist.
    public var seconds: Int64
    public var nanoseconds: UInt32

    public init(seconds: Int64, nanoseconds: UInt32) {
        self.seconds = seconds
        self.nanoseconds = nanoseconds
    }
}

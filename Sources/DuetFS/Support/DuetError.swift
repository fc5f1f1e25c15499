import Glibc

/// A failure that names what it concerns and what to do next (DESIGN §5).
public struct DuetError: Error, CustomStringConvertible, Sendable, Equatable {
    public enum Kind: Sendable, Equatable {
        /// The path is not on a btrfs file system.
        case notBtrfs
        /// The path does not exist or is not a mount of a btrfs file system.
        case notMounted
        /// The operation needs root (CAP_SYS_ADMIN).
        case permission
        /// A system call failed.
        case system(errno: Int32)
        /// Bytes did not decode as the named structure.
        case malformed
        /// Something the user asked for is not supported here.
        case unsupported
    }

    public let kind: Kind
    public let message: String

    public init(_ kind: Kind, _ message: String) {
        self.kind = kind
        self.message = message
    }

    /// A failed system call: names the call, what it was applied to, and the errno text.
    public static func system(_ call: String, _ subject: String, errno code: Int32 = Glibc.errno) -> DuetError {
        let reason = String(cString: strerror(code))
        let kind: Kind = (code == EPERM || code == EACCES) ? .permission : .system(errno: code)
        let hint = kind == .permission ? " (run as root)" : ""
        return DuetError(kind, "\(call) on \(subject) failed: \(reason)\(hint)")
    }

    public static func malformed(_ what: String) -> DuetError { DuetError(.malformed, what) }

    public var description: String { message }

    public var errno: Int32? {
        if case .system(let code) = kind { return code }
        return nil
    }
}

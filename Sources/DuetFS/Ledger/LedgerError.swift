import Glibc

/// Why a ledger operation failed; each case names the path and what to do next.
public enum LedgerError: Error, Equatable, CustomStringConvertible {
    /// A system call failed.
    case system(operation: String, path: String, errno: Int32)
    /// Another process (or another `Ledger` in this one) holds the ledger's lock.
    case locked(path: String)
    /// The snapshot cannot be read; the ledger is an optimisation, so moving it aside is safe.
    case corruptSnapshot(path: String, reason: String)
    /// The state directory belongs to another file system or uses another sector size.
    case mismatch(path: String, reason: String)
    /// A read-only ledger was asked to write.
    case readOnly(path: String)
    /// The state directory, or a file in it, fails the safety checks (`StateDirectory`, `NoFollow`).
    case unsafe(path: String, reason: String)

    public var description: String {
        switch self {
        case let .system(operation, path, code) where code == ELOOP:
            "\(operation) \(path): it is a symbolic link; Duet never follows one in its state (remove it)"
        case let .system(operation, path, code):
            "\(operation) \(path): \(String(cString: strerror(code))) (errno \(code))"
        case let .locked(path):
            "ledger \(path) is in use by another process (lock held); stop the other duet process or wait for it"
        case let .corruptSnapshot(path, reason):
            "ledger snapshot \(path) is unreadable (\(reason)); move it aside to start an empty ledger (only skipped work is lost)"
        case let .mismatch(path, reason):
            "ledger \(path) does not match this file system (\(reason)); check --state-dir"
        case let .readOnly(path):
            "ledger \(path) was opened read-only"
        case let .unsafe(_, reason):
            reason
        }
    }
}

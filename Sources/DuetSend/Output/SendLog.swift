import SystemPackage

/// The lines `btrfs send` prints on standard error, at its verbosity levels, so that scripts and
/// test suites comparing its output (fstests' golden files) see the same text from `duet send`.
///
/// btrfs-progs starts `send` at level 1 (for the historical "At subvol" line); each `-v` adds
/// one, `-q` sets 0 (nothing), and a `-v` after `-q` counts from 0 again. A line of level L is
/// printed when the level is at least L.
public struct SendLog: Sendable {
    public enum Level: Int, Sendable {
        /// "At subvol X" (btrfs-progs `LOG_DEFAULT`).
        case standard = 1
        /// The protocol version, the ioctl's return (`LOG_INFO`).
        case info = 2
        /// `LOG_DEBUG`.
        case debug = 4
    }

    /// One `-v` or `-q`, in the order given on the command line.
    public enum Adjustment: Sendable, Equatable {
        case verbose, quiet
    }

    public var verbosity: Int

    public init(verbosity: Int = 0) { self.verbosity = verbosity }

    /// The level `btrfs send` arrives at from its default of 1 and the `-v`/`-q` given.
    public init(adjustments: [Adjustment]) {
        verbosity = adjustments.reduce(1) { level, adjustment in adjustment == .verbose ? level + 1 : 0 }
    }

    public func prints(_ level: Level) -> Bool { verbosity > 0 && verbosity >= level.rawValue }

    /// `text` (with its newline) on standard error if the level is reached; unbuffered, as C's
    /// stderr is, so the line precedes whatever the stream writes next.
    public func line(_ level: Level, _ text: String) {
        guard prints(level) else { return }
        SendLog.standardError(text + "\n")
    }

    /// btrfs-progs' `error()`: "ERROR: " and the message, whatever the verbosity.
    public static func error(_ message: String) {
        standardError("ERROR: " + message + "\n")
    }

    static func standardError(_ text: String) {
        // Nowhere is left to report a failure to write to standard error.
        try? FileDescriptor.standardError.writeAll(Array(text.utf8))
    }
}

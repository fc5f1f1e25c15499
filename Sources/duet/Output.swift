import DuetFS
import Foundation

/// Exit codes shared by every command (DESIGN §5).
enum ExitStatus: Int32 {
    case clean = 0
    case couldNotRun = 1
    case nothingToResume = 2
    /// Errors remain: found and not repaired (no `--repair`), or uncorrectable.
    case uncorrectableErrors = 3
    case correctedErrors = 4
    case interrupted = 5
    /// `duet watch --source kernel` without `/dev/duet`: scripts can fall back to another source.
    case eventSourceUnavailable = 6
    /// A scrub ran to its end but some planned data was neither verified nor skipped: never "finished".
    case incomplete = 7
}

enum Terminal {
    /// One line on stderr naming what failed, then exit 1.
    static func fail(_ message: String, status: ExitStatus = .couldNotRun) -> Never {
        FileHandle.standardError.write(Data(JournalStream.errorLine("duet: \(message)").utf8))
        exit(status.rawValue)
    }

    /// One warning line on stderr; the command goes on.
    static func warn(_ message: String) {
        FileHandle.standardError.write(Data("duet: warning: \(message)\n".utf8))
    }

    /// Refuses to continue unless running as root, naming what needs it.
    static func requireRoot(for what: String) throws {
        if geteuid() != 0 {
            throw DuetError(.permission, "\(what) needs root (CAP_SYS_ADMIN for btrfs tree searches): run it with sudo")
        }
    }
}

/// `--json` output: a versioned envelope around the command's result. `version` is the
/// schema of envelope and results (README, "JSON reference"): 2 since every output names the
/// file system `uuid` and the mount `mountPath`, durations and ages in `…Seconds`, byte counts in
/// `…Bytes`. `duetVersion` is the program that wrote it.
struct JSONEnvelope<Result: Encodable>: Encodable {
    let version = 2
    let duetVersion = DuetVersion.current
    let command: String
    let result: Result

    /// Pretty-printed, or on one line (`compact`) for streams of status lines.
    func render(compact: Bool = false) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = compact ? [.sortedKeys, .withoutEscapingSlashes] : [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        encoder.dateEncodingStrategy = .iso8601
        return String(decoding: try encoder.encode(self), as: UTF8.self)
    }
}

/// Sizes in binary units as btrfs-progs prints them ("1.00GiB").
enum ByteCount {
    static func human(_ bytes: UInt64) -> String {
        let units = ["B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"]
        var value = Double(bytes)
        var unit = 0
        while value >= 1024, unit < units.count - 1 {
            value /= 1024
            unit += 1
        }
        return unit == 0 ? "\(bytes)B" : String(format: "%.2f%@", value, units[unit])
    }
}

/// `Key: value` lines with the values aligned.
struct KeyValueTable {
    private var rows: [(String, String)] = []

    mutating func add(_ key: String, _ value: String) { rows.append((key, value)) }

    func render() -> String {
        let width = (rows.map { $0.0.count }.max() ?? 0) + 2
        return rows.map { key, value in
            (key + ":").padding(toLength: width, withPad: " ", startingAt: 0) + value
        }.joined(separator: "\n")
    }
}

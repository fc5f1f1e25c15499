import DuetFS
import Foundation

/// The saved state of the latest scrub of a file system (`<state dir>/scrub.json`): enough to
/// show its status from another process and to resume it after a kill or a reboot.
public struct ScrubRecord: Codable, Sendable {
    public enum Status: String, Codable, Sendable {
        case running, finished, interrupted
        /// Ran to the end but left planned data neither verified nor skipped (`coverageGaps`).
        case incomplete
    }

    /// The schema of this file: 2 since the names were made those of every `--json` output
    /// (`uuid`, `…Seconds`, `…Bytes`); records of version 1 are renamed on load (`migrated`).
    public var version = ScrubRecord.currentVersion
    /// The file system's UUID (the fsid, as `btrfs filesystem show` prints it).
    public var uuid: String
    public var mountPath: String
    public var status: Status
    public var pid: Int32
    public var startedAt: Date
    public var updatedAt: Date
    public var finishedAt: Date?
    /// Seconds spent scrubbing across all runs (a resumed scrub adds to it).
    public var elapsedSeconds: Double
    public var generation: UInt64
    public var full: Bool
    /// Per device id: the physical offset below which everything was verified.
    public var cursors: [String: UInt64]
    public var counters: ScrubCounters
    /// While a scrub runs or after an interruption: data ahead of the cursors that reads since the
    /// last complete scrub verified, which the scrub skips when it gets there (not in `counters`).
    public var verifiedAheadBytes: UInt64?
    /// With `--idle`: seconds its reads waited for idle devices across all runs, summed over
    /// devices (they wait in parallel, so it can exceed `elapsedSeconds`).
    public var deferredSeconds: Double?
    public var findings: [ScrubFinding]
    /// Bytes a full scrub would read: used bytes of every block group times its copies.
    public var totalToScrubBytes: UInt64
    /// With status `incomplete`: the devices whose planned data was not all covered.
    public var coverageGaps: [CoverageGap]?
    /// When a scrub of this file system last finished with no errors (carried from record to record).
    public var lastSuccessAt: Date?
    /// Set after `--repair`.
    public var corrected: UInt64?
    public var uncorrectable: UInt64?

    public var cursorsByDevice: [UInt64: UInt64] {
        Dictionary(uniqueKeysWithValues: cursors.compactMap { key, value in UInt64(key).map { ($0, value) } })
    }

    public static let currentVersion = 2

    /// Version 1 names, renamed to those of version 2. A scrub interrupted before an upgrade must
    /// resume after it, and a record the new names cannot read must not pass for a damaged one.
    static let version1Renames: [String: String] = [
        "fsid": "uuid", "elapsed": "elapsedSeconds", "secondsDeferred": "deferredSeconds",
        "verifiedAhead": "verifiedAheadBytes", "totalToScrub": "totalToScrubBytes"
    ]
    static let version1CounterRenames: [String: String] = [
        "dataVerified": "dataVerifiedBytes", "treeVerified": "treeVerifiedBytes",
        "dataWithoutChecksum": "dataWithoutChecksumBytes", "skippedVerified": "skippedVerifiedBytes",
        "deviceBytesRead": "deviceReadBytes", "parityKernelScrubbed": "parityKernelScrubbedBytes"
    ]
    static let version1FindingRenames: [String: String] = ["length": "lengthBytes"]

    /// Decodes a record of any version: one older than `currentVersion` has its keys renamed first.
    public static func decode(_ data: Data) throws -> ScrubRecord {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        return try decoder.decode(ScrubRecord.self, from: try migrated(data))
    }

    /// `data` with version 1 keys renamed to version 2 ones; anything else unchanged.
    static func migrated(_ data: Data) throws -> Data {
        guard var object = try JSONSerialization.jsonObject(with: data) as? [String: Any],
            (object["version"] as? Int ?? currentVersion) < currentVersion
        else { return data }
        func renamed(_ dictionary: [String: Any], _ renames: [String: String]) -> [String: Any] {
            Dictionary(dictionary.map { (renames[$0.key] ?? $0.key, $0.value) }, uniquingKeysWith: { new, _ in new })
        }
        object = renamed(object, version1Renames)
        if let counters = object["counters"] as? [String: Any] { object["counters"] = renamed(counters, version1CounterRenames) }
        if let findings = object["findings"] as? [[String: Any]] {
            object["findings"] = findings.map { renamed($0, version1FindingRenames) }
        }
        object["version"] = currentVersion
        return try JSONSerialization.data(withJSONObject: object)
    }
}

/// Where scrub state lives, with the lock that allows one scrub per state directory (the
/// per-file-system lock under `/run/duet` is the session's). Every file in it is opened without
/// following links and replaced through new temporary names (`NoFollow`, `AtomicFile`).
public final class ScrubStateStore: @unchecked Sendable {
    // @unchecked: `lockDescriptor` is set by `lock()` on the session's thread, before any other uses the store.
    public let directory: String
    private var lockDescriptor: Int32 = -1
    var recordPath: String { directory + "/scrub.json" }
    var lockPath: String { directory + "/scrub.lock" }

    public init(directory: String) {
        self.directory = directory
    }

    deinit { if lockDescriptor >= 0 { close(lockDescriptor) } }

    /// Creates and checks the directory (`StateDirectory`) and takes the scrub lock, or says who holds it.
    public func lock() throws {
        try Self.makeDirectory(directory)
        let descriptor = NoFollow.open(lockPath, O_RDWR | O_CREAT)
        guard descriptor >= 0 else { throw NoFollow.openError(lockPath) }
        if flock(descriptor, LOCK_EX | LOCK_NB) != 0 {
            close(descriptor)
            // The pid only adds to the refusal; an unreadable record must not replace it.
            let holder = (try? load()).map { " (pid \($0.pid))" } ?? ""
            throw DuetError(
                .system(errno: EBUSY),
                "a scrub of this file system is already running\(holder): wait for it, or stop it with `duet scrub cancel`")
        }
        lockDescriptor = descriptor
    }

    /// Whether a scrub process holds the lock now.
    public func isLocked() -> Bool {
        let descriptor = NoFollow.open(lockPath, O_RDWR)
        guard descriptor >= 0 else { return false }
        defer { close(descriptor) }
        if flock(descriptor, LOCK_EX | LOCK_NB) == 0 {
            flock(descriptor, LOCK_UN)
            return false
        }
        return true
    }

    public func load() throws -> ScrubRecord? {
        guard let data = try AtomicFile.read(recordPath) else { return nil }
        do {
            return try ScrubRecord.decode(data)
        } catch {
            throw DamagedRecord(path: recordPath, reason: "\(error)")
        }
    }

    /// The record as `duet scrub status` shows it: one that says running while no process holds
    /// the lock was left by a killed scrub, and is interrupted.
    public func loadForStatus() throws -> ScrubRecord? {
        guard var record = try load() else { return nil }
        if record.status == .running, !isLocked() { record.status = .interrupted }
        return record
    }

    /// Moves a damaged record aside (kept for inspection) so a new scrub can start; returns its new name.
    public func setAside() throws -> String {
        let stamp = ISO8601DateFormatter().string(from: Date()).replacingOccurrences(of: ":", with: "")
        let aside = "\(recordPath).damaged-\(stamp)"
        guard rename(recordPath, aside) == 0 else { throw DuetError.system("rename", recordPath) }
        return aside
    }

    /// Replaces the record atomically: a new temporary file, fsync, rename, directory fsync.
    public func save(_ record: ScrubRecord) throws {
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .iso8601
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        let data = try encoder.encode(record)
        try AtomicFile.write(data, to: recordPath)
    }

    static func makeDirectory(_ path: String) throws {
        do {
            try StateDirectory.prepare(path)
        } catch  where error.kind == .permission {
            throw error
        } catch {
            throw DuetError(error.kind, "cannot use the state directory \(path): \(error.message); give a writable one with --state-dir")
        }
        guard access(path, W_OK) == 0 else {
            throw DuetError(.permission, "the state directory \(path) is not writable; give a writable one with --state-dir")
        }
    }

    /// `scrub.json` exists but does not decode: moved aside by `scrub start`, refused by `resume`.
    public struct DamagedRecord: Error, CustomStringConvertible {
        public let path: String
        public let reason: String
        public var description: String { "\(path) is damaged (\(reason))" }
    }
}

import DuetFS
import Foundation

/// The saved state of the latest scrub of a file system (`<state dir>/scrub.json`): enough to
/// show its status from another process and to resume it after a kill or a reboot.
public struct ScrubRecord: Codable, Sendable {
    public enum Status: String, Codable, Sendable {
        case running, finished, interrupted
    }

    public var version = 1
    public var fsid: String
    public var mountPath: String
    public var status: Status
    public var pid: Int32
    public var startedAt: Date
    public var updatedAt: Date
    public var finishedAt: Date?
    /// Seconds spent scrubbing across all runs (a resumed scrub adds to it).
    public var elapsed: Double
    public var generation: UInt64
    public var full: Bool
    /// Per device id: the physical offset below which everything was verified.
    public var cursors: [String: UInt64]
    public var counters: ScrubCounters
    /// While a scrub runs or after an interruption: data ahead of the cursors that reads since the
    /// last complete scrub verified, which the scrub skips when it gets there (not in `counters`).
    public var verifiedAhead: UInt64?
    /// With `--idle`: seconds its reads waited for idle devices across all runs, summed over
    /// devices (they wait in parallel, so it can exceed `elapsed`).
    public var secondsDeferred: Double?
    public var findings: [ScrubFinding]
    /// Bytes a full scrub would read: used bytes of every block group times its copies.
    public var totalToScrub: UInt64
    /// Set after `--repair`.
    public var corrected: UInt64?
    public var uncorrectable: UInt64?

    public var cursorsByDevice: [UInt64: UInt64] {
        Dictionary(uniqueKeysWithValues: cursors.compactMap { key, value in UInt64(key).map { ($0, value) } })
    }
}

/// Where scrub state lives, with the lock that allows one scrub per file system.
public final class ScrubStateStore: @unchecked Sendable {
    public let directory: String
    private var lockDescriptor: Int32 = -1
    var recordPath: String { directory + "/scrub.json" }

    public init(directory: String) {
        self.directory = directory
    }

    deinit { if lockDescriptor >= 0 { close(lockDescriptor) } }

    /// Creates the directory (mode 0700) and takes the scrub lock, or says who holds it.
    public func lock() throws {
        try Self.makeDirectory(directory)
        let path = directory + "/scrub.lock"
        let descriptor = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else { throw DuetError.system("open", path) }
        if flock(descriptor, LOCK_EX | LOCK_NB) != 0 {
            close(descriptor)
            let holder = (try? load()).map { " (pid \($0.pid))" } ?? ""
            throw DuetError(.system(errno: EBUSY), "a scrub of this file system is already running\(holder): wait for it, or stop it with `duet scrub cancel`")
        }
        lockDescriptor = descriptor
    }

    /// Whether a scrub process holds the lock now.
    public func isLocked() -> Bool {
        let descriptor = open(directory + "/scrub.lock", O_RDWR | O_CLOEXEC)
        guard descriptor >= 0 else { return false }
        defer { close(descriptor) }
        if flock(descriptor, LOCK_EX | LOCK_NB) == 0 {
            flock(descriptor, LOCK_UN)
            return false
        }
        return true
    }

    public func load() throws -> ScrubRecord? {
        guard let data = FileManager.default.contents(atPath: recordPath) else { return nil }
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        do {
            return try decoder.decode(ScrubRecord.self, from: data)
        } catch {
            throw DuetError.malformed("\(recordPath) is damaged (\(error)): remove it to start afresh")
        }
    }

    /// Replaces the record atomically: a temporary file, fsync, rename, directory fsync.
    public func save(_ record: ScrubRecord) throws {
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .iso8601
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        let data = try encoder.encode(record)
        try AtomicFile.write(data, to: recordPath)
    }

    static func makeDirectory(_ path: String) throws {
        var isDirectory: ObjCBool = false
        if !FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) {
            do {
                try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
            } catch {
                throw DuetError(.permission, "cannot create the state directory \(path): \(error.localizedDescription); give a writable one with --state-dir")
            }
        }
        guard access(path, W_OK) == 0 else {
            throw DuetError(.permission, "the state directory \(path) is not writable; give a writable one with --state-dir")
        }
    }
}

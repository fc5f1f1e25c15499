import Foundation
import Logging

/// Whether standard error goes to the journal. systemd sets `JOURNAL_STREAM` to the `dev:ino`
/// of the stream it connects (systemd.exec(5)); a child that inherited the variable but whose
/// stderr was redirected (a pipe, a file, a terminal) must print as usual, so the pair has to
/// match stderr itself.
enum JournalStream {
    static let isStandardError: Bool = {
        var status = stat()
        guard let value = ProcessInfo.processInfo.environment["JOURNAL_STREAM"], fstat(STDERR_FILENO, &status) == 0 else { return false }
        return matches(value, device: UInt64(status.st_dev), inode: UInt64(status.st_ino))
    }()

    static func matches(_ value: String, device: UInt64, inode: UInt64) -> Bool {
        let parts = value.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count == 2, let d = UInt64(parts[0]), let i = UInt64(parts[1]) else { return false }
        return d == device && i == inode
    }

    /// The sd-daemon(3) prefix journald turns into the entry's priority, so that
    /// `journalctl -p warning` shows Duet's warnings.
    static func prefix(_ level: Logger.Level) -> String {
        switch level {
        case .trace, .debug: "<7>"
        case .info: "<6>"
        case .notice: "<5>"
        case .warning: "<4>"
        case .error: "<3>"
        case .critical: "<2>"
        }
    }

    /// A line for stderr from outside the logger (fatal messages): the error priority when the
    /// journal reads it.
    static func errorLine(_ text: String) -> String {
        (isStandardError ? prefix(.error) : "") + text + "\n"
    }
}

/// Log lines for the journal: the priority prefix and no timestamp (the journal stamps each
/// entry; swift-log's stream handler would add a second one).
struct JournalLogHandler: LogHandler {
    var logLevel: Logger.Level = .info
    var metadata: Logger.Metadata = [:]
    var metadataProvider: Logger.MetadataProvider?

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        FileHandle.standardError.write(
            Data(
                Self.line(
                    level: event.level, message: event.message.description,
                    metadata: metadata.merging(event.metadata ?? [:]) { $1 }
                ).utf8))
    }

    static func line(level: Logger.Level, message: String, metadata: Logger.Metadata = [:]) -> String {
        let pairs = metadata.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }
        return JournalStream.prefix(level) + message + (pairs.isEmpty ? "" : " " + pairs.joined(separator: " ")) + "\n"
    }
}

enum DuetLogging {
    /// Under systemd with stderr to the journal, priority-prefixed lines; elsewhere swift-log's
    /// usual stderr lines (timestamp, level, label).
    static func bootstrap() {
        let journal = JournalStream.isStandardError
        LoggingSystem.bootstrap { label in
            journal ? JournalLogHandler() as any LogHandler : StreamLogHandler.standardError(label: label)
        }
    }
}

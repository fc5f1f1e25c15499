import DuetTestSupport
import DuetWatch
import Foundation
import Testing

@testable import duet

/// What an administrator sees of duet outside its work: the version, and log lines under journald.
struct OperabilityTests {
    /// Runs the duet binary with stderr on a pipe; `journal` sets JOURNAL_STREAM to that pipe's
    /// `dev:ino`, as systemd does for a service whose stderr is the journal, or to another pair.
    static func stderrOf(_ arguments: [String], journal: Bool?) throws -> (status: Int32, text: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: DuetBinary.path)
        process.arguments = arguments
        let pipe = Pipe()
        var status = stat()
        #expect(fstat(pipe.fileHandleForWriting.fileDescriptor, &status) == 0)
        var environment = ProcessInfo.processInfo.environment
        environment["JOURNAL_STREAM"] = nil
        if let journal {
            environment["JOURNAL_STREAM"] = journal ? "\(status.st_dev):\(status.st_ino)" : "\(status.st_dev):\(status.st_ino + 1)"
        }
        process.environment = environment
        process.standardError = pipe
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        try pipe.fileHandleForWriting.close()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: data, as: UTF8.self))
    }

    @Test("duet --version prints the version the --json envelopes carry")
    func version() throws {
        let result = try DuetBinary.run(["--version"])
        #expect(result.status == 0)
        #expect(result.output == DuetVersion.current + "\n")
        #expect(DuetVersion.current.wholeMatch(of: /[0-9]+\.[0-9]+\.[0-9]+/) != nil)
        let json = try JSONEnvelope(command: "test", result: [1]).render()
        #expect(json.contains(#""duetVersion" : "\#(DuetVersion.current)""#), "\(json)")
    }

    @Test("With stderr on the journal, a warning carries <4> and no timestamp")
    func journalWarning() throws {
        let journal = try Self.stderrOf(["debug", "log-line", "--level", "warning", "disk busy"], journal: true)
        #expect(journal.text == "<4>disk busy\n")
        #expect(try Self.stderrOf(["debug", "log-line", "--level", "info", "x"], journal: true).text == "<6>x\n")
        #expect(try Self.stderrOf(["debug", "log-line", "--level", "error", "x"], journal: true).text == "<3>x\n")
        #expect(try Self.stderrOf(["debug", "log-line", "--level", "debug", "x"], journal: true).text == "<7>x\n")
    }

    @Test("JOURNAL_STREAM naming another stream, or none, leaves the usual timestamped line")
    func notJournal() throws {
        for journal in [false, nil] as [Bool?] {
            let text = try Self.stderrOf(["debug", "log-line", "--level", "warning", "disk busy"], journal: journal).text
            #expect(!text.hasPrefix("<"), "\(text)")
            #expect(text.wholeMatch(of: /[0-9]{4}-[0-9]{2}-[0-9]{2}T\S+ warning duet.debug: .*disk busy\n/) != nil, "\(text)")
        }
    }

    @Test("A fatal error goes to the journal at error priority")
    func journalError() throws {
        let result = try Self.stderrOf(["info", "/nonexistent/duet-test"], journal: true)
        #expect(result.status == 1)
        #expect(result.text.hasPrefix("<3>duet: "), "\(result.text)")
    }

    @Test("JOURNAL_STREAM parsing: decimal dev:ino, nothing else")
    func journalStreamValue() {
        #expect(JournalStream.matches("64769:12345", device: 64769, inode: 12345))
        #expect(!JournalStream.matches("64769:12346", device: 64769, inode: 12345))
        #expect(!JournalStream.matches("64769", device: 64769, inode: 12345))
        #expect(!JournalStream.matches("a:b", device: 64769, inode: 12345))
        #expect(!JournalStream.matches("1:2:3", device: 1, inode: 2))
    }

    @Test("The watcher's periodic line: rates over the window, page events labelled as such")
    func watchLogLine() {
        // The window rules (once per --log-interval, none for a quiet window) are DuetWatchTests'.
        let summary = WatchLogSummary(
            seconds: 3600, events: 3590, pageEvents: 35900, lost: 0, creditedBytes: 1 << 20 - 4096,
            totalCreditedBytes: 1 << 20)
        #expect(
            WatchCommand.logLine(summary)
                == "0 events/s (9 page events/s) in the last 3600 s, 0 lost, 1020.00KiB credited (1.00MiB since start)")
        let hour = WatchLogSummary(
            seconds: 3599.6, events: 3600, pageEvents: 36000, lost: 2, creditedBytes: 1 << 20, totalCreditedBytes: 3 << 20)
        #expect(
            WatchCommand.logLine(hour) == "1 events/s (10 page events/s) in the last 3600 s, 2 lost, 1.00MiB credited (3.00MiB since start)"
        )
    }
}

@testable import duet
import DuetTestSupport
import DuetWatch
import Foundation
import Testing

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
        if let journal { environment["JOURNAL_STREAM"] = journal ? "\(status.st_dev):\(status.st_ino)" : "\(status.st_dev):\(status.st_ino + 1)" }
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

    static func report(delivered: UInt64, pages: UInt64, credited: UInt64, lost: UInt64 = 0) -> WatchReport {
        var creditor = CreditorStatisticsForTest.make(pageEvents: pages, bytesCredited: credited)
        creditor.events = delivered
        return WatchReport(mountPath: "/srv", uuid: "f", source: "bpf", pid: 1, updatedAt: Date(), eventsPerSecond: 0, pageEventsPerSecond: 0,
                           eventsDelivered: delivered, eventsLost: lost, creditor: creditor, flushFailures: 0)
    }

    @Test("The watcher's periodic line: once per --log-interval, and none for a quiet window")
    func watchLogWindow() {
        let start = Date(timeIntervalSince1970: 1_000_000)
        var window = WatchLogWindow(start: start)
        // Within the interval: nothing, however busy.
        #expect(window.line(for: Self.report(delivered: 10, pages: 100, credited: 4096), at: start + 1800, interval: 3600) == nil)
        // The window is over: rates over its whole length, page events labelled as such.
        let line = window.line(for: Self.report(delivered: 3600, pages: 36000, credited: 1 << 20), at: start + 3600, interval: 3600)
        #expect(line == "1 events/s (10 page events/s) in the last 3600 s, 0 lost, 1.00MiB credited (1.00MiB since start)")
        // A quiet hour: no line.
        #expect(window.line(for: Self.report(delivered: 3600, pages: 36000, credited: 1 << 20), at: start + 7200, interval: 3600) == nil)
        // Events lost count as something happening.
        #expect(window.line(for: Self.report(delivered: 3600, pages: 36000, credited: 1 << 20, lost: 2), at: start + 10800, interval: 3600)?
            .contains("2 lost") == true)
    }
}

import DuetFS

enum CreditorStatisticsForTest {
    static func make(pageEvents: UInt64, bytesCredited: UInt64) -> CreditorStatistics {
        var statistics = CreditorStatistics()
        statistics.pageEvents = pageEvents
        statistics.bytesCredited = bytesCredited
        return statistics
    }
}

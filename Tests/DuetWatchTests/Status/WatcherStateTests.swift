import DuetFS
import DuetWatch
import Foundation
import Testing

/// `duet status`'s reading of `watch.json`: whether a watcher runs, and which report to show.
struct WatcherStateTests {
    static let now = Date(timeIntervalSince1970: 2_000_000_000)

    static func report(pid: Int32 = 42, updatedAt: Date = WatcherStateTests.now.addingTimeInterval(-4)) -> WatchReport {
        var creditor = CreditorStatistics()
        creditor.bytesCredited = 8192
        return WatchReport(
            mountPath: "/srv", uuid: "u", source: "ebpf", pid: pid, updatedAt: updatedAt, eventsPerSecond: 12.5,
            pageEventsPerSecond: 50, eventsDelivered: 100, eventsLost: 1, creditor: creditor, flushFailures: 0)
    }

    static func encoded(_ report: WatchReport) throws -> Data {
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .iso8601
        return try encoder.encode(report)
    }

    @Test("a report of this version whose pid is a running watcher: running, shown with its age")
    func running() throws {
        let read = WatchStatusFile.decode(try Self.encoded(Self.report()))
        let state = WatcherState(read, now: Self.now, isWatcher: { $0 == 42 })
        #expect(state.running && state.identity == WatcherIdentity(pid: 42, source: "ebpf"))
        #expect(state.report?.ageSeconds == 4 && state.report?.eventsPerSecond == 12.5)
    }

    @Test("a report written in the future (clock stepped back) has age 0, not a negative one")
    func future() throws {
        let read = WatchStatusFile.decode(try Self.encoded(Self.report(updatedAt: Self.now.addingTimeInterval(30))))
        #expect(WatcherState(read, now: Self.now, isWatcher: { _ in true }).report?.ageSeconds == 0)
    }

    @Test("a pid that is no longer a watcher (killed with -9, pid reused): not running, no report")
    func gone() throws {
        let read = WatchStatusFile.decode(try Self.encoded(Self.report()))
        let state = WatcherState(read, now: Self.now, isWatcher: { _ in false })
        #expect(!state.running && state.report == nil && state.identity?.pid == 42)
    }

    @Test("another version's file: running by its pid and source, without a report")
    func otherVersion() {
        let read = WatchStatusFile.decode(Data(#"{"pid": 7, "source": "bpf", "mount": "/srv", "rate": 12}"#.utf8))
        #expect(read.report == nil)
        let state = WatcherState(read, now: Self.now, isWatcher: { $0 == 7 })
        #expect(state.running && state.report == nil && state.identity == WatcherIdentity(pid: 7, source: "bpf"))
        let bare = WatcherState(WatchStatusFile.decode(Data(#"{"pid": 7}"#.utf8)), now: Self.now, isWatcher: { _ in true })
        #expect(bare.running && bare.identity == WatcherIdentity(pid: 7, source: nil))
    }

    @Test("no file, or one without a pid: not running, and no process is asked about")
    func noFile() {
        var asked = false
        let missing = WatchStatusFile(directory: "/nonexistent/duet-test").watcher(now: Self.now)
        #expect(!missing.running && missing.report == nil && missing.identity == nil)
        let garbage = WatcherState(
            WatchStatusFile.decode(Data("not json".utf8)), now: Self.now,
            isWatcher: { _ in
                asked = true; return true
            })
        #expect(!garbage.running && garbage.identity == nil && !asked)
    }

    @Test("a watcher's command line has an argument that is exactly `watch`")
    func commandLine() {
        #expect(WatcherProcess.isWatchCommandLine(Data("/usr/bin/duet\0watch\0/srv\0".utf8)))
        #expect(WatcherProcess.isWatchCommandLine(Data("duet\0--json\0watch\0".utf8)))
        #expect(!WatcherProcess.isWatchCommandLine(Data("/usr/bin/duet\0status\0/srv/watch\0".utf8)))
        #expect(!WatcherProcess.isWatchCommandLine(Data("watcher\0".utf8)))
        #expect(!WatcherProcess.isWatchCommandLine(Data()))
        #expect(!WatcherProcess.isWatcher(pid: getpid()), "this test process is no watcher")
    }

    @Test("write then read gives the report back; remove leaves no file")
    func roundTrip() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
            "duet-watch-status-\(getpid())-\(UInt32.random(in: 0 ... .max))"
        ).path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let file = WatchStatusFile(directory: directory)
        #expect(file.path == directory + "/watch.json")
        let report = Self.report()
        file.write(report)
        let read = file.read()
        #expect(read.report?.pid == 42 && read.report?.creditor == report.creditor && read.report?.updatedAt == report.updatedAt)
        #expect(read.report?.ageSeconds == nil, "only duet status adds the age")
        file.remove()
        #expect(!FileManager.default.fileExists(atPath: file.path))
    }
}

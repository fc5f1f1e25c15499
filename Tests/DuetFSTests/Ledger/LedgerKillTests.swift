import DuetTestSupport
import Foundation
import Testing

@testable import DuetFS

/// A real SIGKILL of a process that is appending credits: the test binary runs itself again with
/// only `childWriter` selected and the state directory in the environment, lets it credit and
/// flush for a while, kills it with SIGKILL mid-stream, and loads what it left.
@Suite("Ledger kill -9")
struct LedgerKillTests {
    static let childVariable = "DUET_LEDGER_KILL_CHILD_DIR"
    static let fileSystem = FileSystemID("0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0")!

    /// Credit `i` covers sector `2i` with generation `i + 1` and time `i`: distinct generations,
    /// so every credit stays its own entry and the loaded ledger shows exactly which survived.
    static func creditRange(_ index: UInt64) -> Range<UInt64> { index * 8192..<index * 8192 + 4096 }

    @Test("the writer side: appends until killed (does nothing unless started by the kill test)")
    func childWriter() throws {
        guard let directory = ProcessInfo.processInfo.environment[Self.childVariable] else { return }
        let ledger = try Ledger.open(
            fileSystem: Self.fileSystem, directory: directory,
            options: LedgerOptions(bufferedRecordLimit: 7))
        let progress = directory + ".flushed"
        let deadline = Date().addingTimeInterval(120)
        var index: UInt64 = 0
        while Date() < deadline {
            ledger.credit(range: Self.creditRange(index), generation: index + 1, time: index)
            index += 1
            if index % 16 == 0 {
                try ledger.flush()
                // Written after the flush returned: everything up to `index` is durable.
                try String(index).write(toFile: progress, atomically: true, encoding: .utf8)
            }
        }
    }

    @Test("SIGKILL while appending leaves a loadable ledger with every flushed credit, in order")
    func killedWriter() throws {
        let scratch = LedgerScratch()
        let progress = scratch.directory + ".flushed"
        let child = Process()
        child.executableURL = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
        child.arguments = ["--testing-library", "swift-testing", "--filter", "LedgerKillTests/childWriter"]
        var environment = ProcessInfo.processInfo.environment
        environment[Self.childVariable] = scratch.directory
        child.environment = environment
        child.standardOutput = FileHandle.nullDevice
        child.standardError = FileHandle.nullDevice
        try child.run()
        func flushed() -> UInt64 { (try? String(contentsOfFile: progress, encoding: .utf8)).flatMap { UInt64($0) } ?? 0 }
        // Polled often: the point is to kill while the writer is still appending.
        Eventually.poll(timeout: 60, every: 0.002) { flushed() >= 3_000 || !child.isRunning }
        #expect(child.isRunning, "the writer was still appending when killed")
        kill(child.processIdentifier, SIGKILL)
        child.waitUntilExit()
        #expect(child.terminationReason == .uncaughtSignal)
        let durable = flushed()
        #expect(durable >= 3_000)

        let ledger = try scratch.open()
        let credits = ledger.credits()
        #expect(credits.count >= Int(durable), "every flushed credit survived")
        let expected = (0..<UInt64(credits.count)).map {
            LedgerCredit(range: Self.creditRange($0), generation: $0 + 1, time: $0)
        }
        #expect(credits == expected, "what survived is a prefix of what was written: no hole, no garbage")
        #expect(ledger.loadReport.corruptRecords == 0)
        print("ledger kill -9: \(durable) credits flushed, \(credits.count) loaded, torn tail \(ledger.loadReport.tornTailBytes) bytes")
    }
}

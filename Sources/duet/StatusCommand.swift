import ArgumentParser
import DuetFS
import DuetWatch
import Foundation

struct StatusCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status",
        abstract: "Show what is cached now per subvolume, how much the ledger credits by age, and whether a watcher runs."
    )

    @OptionGroup var target: MountArgument

    @OptionGroup var output: JSONFlag

    @Option(help: "Where the ledger lives (default /var/lib/duet/<uuid>).", completion: .directory)
    var stateDir: String?

    func run() throws {
        try Terminal.requireRoot(for: "duet status")
        let fileSystem = try FileSystem(path: target.mount)
        let info = try fileSystem.info()
        let directory = stateDir ?? Ledger.defaultDirectory(for: info.fsid)
        let report = try StatusReport(fileSystem: info.fsid, mountPath: target.mount, ledgerDirectory: directory)
        if output.json {
            print(try JSONEnvelope(command: "status", result: report).render())
            return
        }
        var table = KeyValueTable()
        table.add("UUID", report.uuid)
        if report.cached.isEmpty { table.add("Cached", "nothing") }
        for subvolume in report.cached {
            table.add("Cached in \(subvolume.path) (\(subvolume.id))", ByteCount.human(subvolume.cachedBytes))
        }
        if report.ledgerCoverage.isEmpty { table.add("Ledger", "none yet in \(directory)") }
        for entry in report.ledgerCoverage { table.add("Verified \(entry.age)", ByteCount.human(entry.verifiedBytes)) }
        table.add("Last complete scrub", report.lastCompleteScrubAt.map(ScrubReporter.date) ?? "never")
        if let current = report.watcher {
            table.add(
                "Watcher",
                "running (pid \(current.pid), \(current.source), \(Int(current.eventsPerSecond)) events/s, \(current.eventsLost) lost)")
        } else if let identity = report.watcherIdentity, report.watcherRunning {
            table.add(
                "Watcher",
                "running (pid \(identity.pid)\(identity.source.map { ", \($0)" } ?? ""); another version of duet: restart it for its rates)"
            )
        } else {
            table.add("Watcher", "not running (start `duet watch \(target.mount)`)")
        }
        print(table.render())
    }
}

import ArgumentParser
import DuetFS
import DuetWatch
import Foundation

struct StatusCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status",
        abstract: "Show what is cached now per subvolume, how much the ledger credits by age, and whether a watcher runs."
    )

    @Argument(help: "The mount point of a mounted btrfs file system.", completion: .directory)
    var mount: String

    @Flag(help: "Print JSON (a versioned envelope) instead of text.")
    var json = false

    @Option(help: "Where the ledger lives (default /var/lib/duet/<uuid>).", completion: .directory)
    var stateDir: String?

    struct Report: Codable {
        struct CachedSubvolume: Codable {
            var id: UInt64
            var path: String
            var cachedBytes: UInt64
        }

        /// Bytes the ledger credits with a verification between `minAgeSeconds` and
        /// `maxAgeSeconds` ago (none: no upper bound); `age` says the same in words.
        struct Coverage: Codable {
            var age: String
            var minAgeSeconds: UInt64
            var maxAgeSeconds: UInt64?
            var verifiedBytes: UInt64
        }

        /// The file system's UUID (its fsid, as `btrfs filesystem show` prints it).
        var uuid: String
        var mountPath: String
        var cached: [CachedSubvolume]
        var ledgerCoverage: [Coverage]
        var lastCompleteScrubAt: Date?
        var lastCompleteScrubAgeSeconds: Double?
        var watcher: WatchReport?
        var watcherRunning: Bool
    }

    func run() throws {
        try Terminal.requireRoot(for: "duet status")
        let fileSystem = try FileSystem(path: mount)
        let info = try fileSystem.info()
        let directory = stateDir ?? Ledger.defaultDirectory(for: info.fsid)
        let device = try MountTable.current().btrfsEntry(containing: mount).kernelDevice

        // Bytes cached per subvolume: a residency sweep of every file each subvolume holds.
        let scanner = try CachestatScanner(mounts: [mount])
        var pages: [UInt64: UInt64] = [:]
        try scanner.scanCachedPages(in: .fileSystem(device: device)) { events in
            for event in events where event.kind == .added { pages[event.root, default: 0] += event.pageCount }
        }
        // Names only label the figures: without them a subvolume shows as "?".
        let names = Dictionary(uniqueKeysWithValues: ((try? Subvolumes.list(mountPath: mount)) ?? []).map { ($0.id, $0.path) })
        let cached = pages.keys.sorted().map { id in
            Report.CachedSubvolume(id: id, path: id == Subvolumes.topLevelID ? "<top level>" : names[id] ?? "?", cachedBytes: pages[id]! * pageSize)
        }

        // Ledger coverage by age, read-only so a running watcher keeps its lock.
        var coverage: [Report.Coverage] = []
        var lastScrub: Date?
        // An unreadable ledger shows no coverage: status reports, and `duet scrub` warns about a damaged one.
        if FileManager.default.fileExists(atPath: directory),
           let ledger = try? Ledger.open(fileSystem: info.fsid, directory: directory, options: LedgerOptions(readOnly: true)) {
            let now = UInt64(Date().timeIntervalSince1970)
            var previous: UInt64 = 0
            var previousAge: UInt64 = 0
            for (label, age) in [("1 hour", UInt64(3600)), ("1 day", 86400), ("7 days", 7 * 86400), ("30 days", 30 * 86400), ("older", UInt64.max)] {
                let since = age == .max ? 0 : now - min(age, now)
                let total = ledger.credits(since: since).reduce(UInt64(0)) { $0 + ($1.range.upperBound - $1.range.lowerBound) }
                coverage.append(.init(age: "within \(label)".replacingOccurrences(of: "within older", with: "older"), minAgeSeconds: previousAge,
                                      maxAgeSeconds: age == .max ? nil : age, verifiedBytes: total - previous))
                previous = total
                previousAge = age
            }
            lastScrub = ledger.lastCompleteScrub.map { Date(timeIntervalSince1970: TimeInterval($0)) }
        }

        let now = Date()
        let watcher = WatchStatusFile(directory: directory).watcher(now: now)
        let report = Report(uuid: info.fsid.description, mountPath: mount, cached: cached, ledgerCoverage: coverage,
                            lastCompleteScrubAt: lastScrub, lastCompleteScrubAgeSeconds: lastScrub.map { max(0, now.timeIntervalSince($0)) },
                            watcher: watcher.report, watcherRunning: watcher.running)
        if json {
            print(try JSONEnvelope(command: "status", result: report).render())
            return
        }
        var table = KeyValueTable()
        table.add("UUID", report.uuid)
        if cached.isEmpty { table.add("Cached", "nothing") }
        for subvolume in cached { table.add("Cached in \(subvolume.path) (\(subvolume.id))", ByteCount.human(subvolume.cachedBytes)) }
        if coverage.isEmpty { table.add("Ledger", "none yet in \(directory)") }
        for entry in coverage { table.add("Verified \(entry.age)", ByteCount.human(entry.verifiedBytes)) }
        table.add("Last complete scrub", lastScrub.map(ScrubReporter.date) ?? "never")
        if let current = watcher.report {
            table.add("Watcher", "running (pid \(current.pid), \(current.source), \(Int(current.eventsPerSecond)) events/s, \(current.eventsLost) lost)")
        } else if let identity = watcher.identity, watcher.running {
            table.add("Watcher", "running (pid \(identity.pid)\(identity.source.map { ", \($0)" } ?? ""); another version of duet: restart it for its rates)")
        } else {
            table.add("Watcher", "not running (start `duet watch \(mount)`)")
        }
        print(table.render())
    }
}

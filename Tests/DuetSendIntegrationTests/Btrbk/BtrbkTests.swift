import DuetFS
import DuetTestSupport
import Foundation
import Testing

extension SendIntegrationTests {
    /// btrbk (Debian's package) runs `btrfs send [-p parent] [-c clone]… snapshot | btrfs
    /// receive target/`; with `contrib/duet-btrfs` first in its PATH as `btrfs`, its sends are
    /// `duet send` (contrib/btrbk.md).
    @Suite struct BtrbkTests {
        static let wrapper = URL(fileURLWithPath: #filePath)
            .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("contrib/duet-btrfs").path

        @Test func btrbkRunsItsSendsThroughDuetSend() throws {
            guard (try? Command.execute(["which", "btrbk"]).status) == 0 else {
                Issue.record("btrbk is not installed (apt-get install btrbk; scripts/setup should install it)")
                return
            }
            try TestFileSystem.with { source in
                try TestFileSystem.with { target in
                    try source.createSubvolume("live")
                    try FileManager.default.createDirectory(atPath: source.path("snaps"), withIntermediateDirectories: true)
                    try FileManager.default.createDirectory(atPath: target.path("backups"), withIntermediateDirectories: true)
                    try source.writeFile("live/a", size: 3 << 20, seed: 1)
                    try source.writeFile("live/dir/b", size: 100_000, seed: 2)

                    let bin = source.directory + "/bin"
                    try FileManager.default.createDirectory(atPath: bin, withIntermediateDirectories: true)
                    try FileManager.default.copyItem(atPath: Self.wrapper, toPath: bin + "/btrfs")
                    let log = source.directory + "/btrfs.log"
                    let config = source.directory + "/btrbk.conf"
                    try """
                    timestamp_format long-iso
                    snapshot_preserve_min all
                    target_preserve_min all
                    lockfile \(source.directory)/btrbk.lock
                    volume \(source.mountPoint)
                      snapshot_dir snaps
                      subvolume live
                        target send-receive \(target.path("backups"))

                    """.write(toFile: config, atomically: true, encoding: .utf8)
                    let environment = [
                        "PATH": bin + ":" + (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/sbin:/usr/bin:/sbin:/bin"),
                        "DUET": DuetBinary.path, "DUET_BTRFS_LOG": log
                    ]
                    func run() throws {
                        let result = try Command.execute(["btrbk", "-c", config, "run"], environment: environment)
                        #expect(result.status == 0, "btrbk failed: \(result.output)\n\(result.errorOutput)")
                    }
                    try run()
                    try source.writeFile("live/c", size: 500_000, seed: 3)
                    try FileManager.default.removeItem(atPath: source.path("live/dir/b"))
                    BtrbkDocTests.nextSecond()  // a new btrbk timestamp (seconds in long-iso)
                    try run()

                    let logged = try String(contentsOfFile: log, encoding: .utf8).split(separator: "\n").map(String.init)
                    let sends = logged.filter { $0.hasPrefix("btrfs send ") }
                    #expect(sends.count == 2)
                    #expect(sends.last?.contains(" -p ") == true, "the second send should be incremental: \(sends)")
                    let snapshots = try FileManager.default.contentsOfDirectory(atPath: source.path("snaps")).sorted()
                    let backups = try FileManager.default.contentsOfDirectory(atPath: target.path("backups")).sorted()
                    #expect(snapshots == backups && backups.count == 2)
                    for name in snapshots {
                        try SendHarness.requireSame(
                            try TreeManifest(root: target.path("backups/\(name)")),
                            try TreeManifest(root: source.path("snaps/\(name)")), "btrbk backup \(name)")
                    }
                }
            }
        }
    }
}

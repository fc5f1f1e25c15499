import DuetFS
import DuetTestSupport
import Foundation
import Testing

/// Follows contrib/btrbk.md with duet installed by scripts/install under a scratch prefix: every
/// command run here must be written on that page (with /usr/local standing for the prefix).
@Suite(.enabled(if: IntegrationGate.enabled), .serialized)
struct BtrbkDocTests {
    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent().path

    /// The page's text for `line`, which must be on the page, with the prefix put in.
    static func literal(_ line: String, doc: String, prefix: String) -> String {
        #expect(doc.contains(line), "contrib/btrbk.md no longer says: \(line)")
        return line.replacingOccurrences(of: "/usr/local", with: prefix)
    }

    static func shell(_ command: String, environment: [String: String] = [:]) throws -> Command.Result {
        try Command.execute(["sh", "-c", command], environment: environment)
    }

    /// Waits for the next second: btrbk names snapshots by the second (long-iso).
    static func nextSecond() {
        let now = Int(Date().timeIntervalSince1970)
        Eventually.poll(timeout: 2, every: 0.01) { Int(Date().timeIntervalSince1970) != now }
    }

    static func sends(_ log: String) throws -> [String] {
        try String(contentsOfFile: log, encoding: .utf8).split(separator: "\n").map(String.init).filter { $0.hasPrefix("btrfs send ") }
    }

    @Test("btrbk through the wrapper: send-receive and raw targets, and an ssh source through the filter")
    func followsTheDoc() throws {
        guard (try? Command.execute(["which", "btrbk"]).status) == 0 else {
            Issue.record("btrbk is not installed (scripts/setup installs it)")
            return
        }
        let doc = try String(contentsOfFile: Self.repository + "/contrib/btrbk.md", encoding: .utf8)
        try TestFileSystem.with { source in
            try TestFileSystem.with { target in
                let scratch = source.directory + "/installed"
                let prefix = scratch + "/usr/local"
                let install = try Command.execute([
                    Self.repository + "/scripts/install", "--prefix", prefix, "--sysconfdir", scratch + "/etc",
                    "--binary", DuetBinary.path, "--no-man-pages"
                ])
                #expect(install.status == 0, "\(install.errorOutput)")

                try source.createSubvolume("live")
                try FileManager.default.createDirectory(atPath: source.path("snaps"), withIntermediateDirectories: true)
                for directory in ["backups", "raw", "remote"] {
                    try FileManager.default.createDirectory(atPath: target.path(directory), withIntermediateDirectories: true)
                }
                try source.writeFile("live/a", size: 3 << 20, seed: 1)
                try source.writeFile("live/dir/b", size: 100_000, seed: 2)
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
                    target raw \(target.path("raw"))

                """.write(toFile: config, atomically: true, encoding: .utf8)

                // "by hand or from cron", at -l trace to see what duet send prints.
                let byHand = Self.literal("PATH=/usr/local/lib/duet/btrbk-path:$PATH btrbk run", doc: doc, prefix: prefix)
                    .replacingOccurrences(of: "btrbk run", with: "btrbk -c \(config) -l trace run")
                var result = try Self.shell(byHand, environment: ["DUET_BTRFS_LOG": log])
                #expect(result.status == 0, "btrbk failed: \(result.output)\n\(result.errorOutput)")
                #expect(
                    (result.errorOutput + result.output).contains("[stderr] At subvol"),
                    "-l trace shows what duet send prints on standard error, as for btrfs send")
                try source.writeFile("live/c", size: 500_000, seed: 3)
                try FileManager.default.removeItem(atPath: source.path("live/dir/b"))
                Self.nextSecond()
                result = try Self.shell(byHand, environment: ["DUET_BTRFS_LOG": log])
                #expect(result.status == 0, "btrbk failed: \(result.output)\n\(result.errorOutput)")

                // Two runs, two targets: four sends through duet, the second run's incremental.
                let sends = try Self.sends(log)
                #expect(sends.count == 4, "\(sends)")
                #expect(sends.suffix(2).allSatisfy { $0.contains(" -p ") }, "\(sends)")
                let snapshots = try FileManager.default.contentsOfDirectory(atPath: source.path("snaps")).sorted()
                let backups = try FileManager.default.contentsOfDirectory(atPath: target.path("backups")).sorted()
                #expect(snapshots == backups && backups.count == 2)
                for name in snapshots {
                    try SendHarness.requireSame(
                        try TreeManifest(root: target.path("backups/\(name)")),
                        try TreeManifest(root: source.path("snaps/\(name)")), "send-receive backup \(name)")
                }
                // The raw streams, received in order, give the same trees.
                let raws = try FileManager.default.contentsOfDirectory(atPath: target.path("raw")).filter { $0.hasSuffix(".btrfs") }
                    .sorted()
                #expect(raws.count == 2, "\(raws)")
                let unpacked = target.path("unpacked")
                try FileManager.default.createDirectory(atPath: unpacked, withIntermediateDirectories: true)
                for raw in raws { try Command.run(["btrfs", "receive", "-f", target.path("raw/\(raw)"), unpacked]) }
                for name in snapshots {
                    try SendHarness.requireSame(
                        try TreeManifest(root: unpacked + "/" + name),
                        try TreeManifest(root: source.path("snaps/\(name)")), "raw backup \(name)")
                }

                // An ssh:// source: the filter copy, and a stand-in ssh that does what sshd does
                // with the authorized_keys forced command.
                for line in [
                    "sed 's|^export PATH=|export PATH=/usr/local/lib/duet/btrbk-path:|' /usr/share/btrbk/scripts/ssh_filter_btrbk.sh > /usr/local/lib/duet/ssh_filter_btrbk.sh",
                    "chmod 0755 /usr/local/lib/duet/ssh_filter_btrbk.sh"
                ] {
                    let step = try Self.shell(Self.literal(line, doc: doc, prefix: prefix))
                    #expect(step.status == 0, "\(line): \(step.errorOutput)")
                }
                let key = Self.literal(
                    #"command="/usr/local/lib/duet/ssh_filter_btrbk.sh --source --info",restrict ssh-ed25519 AAAA… btrbk@backup-host"#,
                    doc: doc, prefix: prefix)
                let forced = try #require(key.firstMatch(of: /command="([^"]*)"/)).1
                // Why the copy: btrbk's own filter resets PATH, so a command never reaches the wrapper.
                let probeLog = source.directory + "/probe.log"
                let probe = "btrfs subvolume show '\(source.mountPoint)'"
                for (filter, reaches) in [("/usr/share/btrbk/scripts/ssh_filter_btrbk.sh --source --info", false), (String(forced), true)] {
                    try? FileManager.default.removeItem(atPath: probeLog)
                    let run = try Command.execute([
                        "env", "-i", "PATH=\(prefix)/lib/duet/btrbk-path:/usr/bin:/bin", "SSH_ORIGINAL_COMMAND=\(probe)",
                        "DUET_BTRFS_LOG=\(probeLog)", "/bin/sh", "-c", filter
                    ])
                    #expect(run.status == 0, "\(filter): \(run.errorOutput)")
                    #expect(FileManager.default.fileExists(atPath: probeLog) == reaches, "\(filter)")
                }
                let fakeBin = source.directory + "/fake-ssh"
                try FileManager.default.createDirectory(atPath: fakeBin, withIntermediateDirectories: true)
                try """
                #!/bin/sh
                # ssh [options] destination command…: the remote sshd runs the forced command
                # through the shell with the requested command in SSH_ORIGINAL_COMMAND.
                while [ $# -gt 0 ]; do
                  case $1 in -p|-c|-i|-o|-l) shift 2 ;; -*) shift ;; *) break ;; esac
                done
                shift
                exec env -i HOME=/root PATH=/usr/bin:/bin SSH_ORIGINAL_COMMAND="$*" DUET_BTRFS_LOG="$DUET_BTRFS_LOG" /bin/sh -c '\(forced)'

                """.write(toFile: fakeBin + "/ssh", atomically: true, encoding: .utf8)
                chmod(fakeBin + "/ssh", 0o755)
                let remoteConfig = source.directory + "/btrbk-remote.conf"
                try """
                timestamp_format long-iso
                snapshot_preserve_min all
                target_preserve_min all
                lockfile \(source.directory)/btrbk-remote.lock
                volume ssh://localhost\(source.mountPoint)
                  snapshot_dir snaps
                  subvolume live
                    target send-receive \(target.path("remote"))

                """.write(toFile: remoteConfig, atomically: true, encoding: .utf8)
                let remoteLog = source.directory + "/btrfs-remote.log"
                Self.nextSecond()
                let path = fakeBin + ":" + (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/sbin:/usr/bin:/sbin:/bin")
                result = try Command.execute(["btrbk", "-c", remoteConfig, "run"], environment: ["PATH": path, "DUET_BTRFS_LOG": remoteLog])
                #expect(result.status == 0, "btrbk over ssh failed: \(result.output)\n\(result.errorOutput)")
                // A new target: btrbk sends all three snapshots there, each through the filter to the wrapper.
                let remoteSends = try Self.sends(remoteLog)
                #expect(remoteSends.count == 3, "the sends reached the wrapper through the filter: \(remoteSends)")
                let remote = try FileManager.default.contentsOfDirectory(atPath: target.path("remote"))
                #expect(remote.sorted() == (try FileManager.default.contentsOfDirectory(atPath: source.path("snaps")).sorted()))
                #expect(remote.count == 3)
                for name in remote {
                    try SendHarness.requireSame(
                        try TreeManifest(root: target.path("remote/\(name)")),
                        try TreeManifest(root: source.path("snaps/\(name)")), "ssh backup \(name)")
                }
            }
        }
    }
}

import Foundation

/// Decides whether integration tests may run. Under `CI=true` they always run, so a machine
/// that cannot make loop devices or mount btrfs fails loudly instead of skipping.
public enum IntegrationGate {
    public static var isCI: Bool { ProcessInfo.processInfo.environment["CI"] == "true" }

    /// Why this machine cannot run integration tests, or nil if it can.
    public static let obstacle: String? = {
        if geteuid() != 0 { return "integration tests need root (loop devices, mount, btrfs ioctls)" }
        if !FileManager.default.fileExists(atPath: "/dev/loop-control") { return "no /dev/loop-control: loop devices unavailable" }
        let filesystems = (try? String(contentsOfFile: "/proc/filesystems", encoding: .utf8)) ?? ""
        if !filesystems.contains("btrfs") { return "the kernel has no btrfs (not in /proc/filesystems)" }
        for tool in ["mkfs.btrfs", "btrfs", "losetup", "mount", "umount"] {
            if (try? Command.execute(["which", tool]).status) != 0 { return "\(tool) is not installed: run scripts/setup" }
        }
        return nil
    }()

    /// True when integration tests should run: always under CI (and then fail if they cannot).
    public static var enabled: Bool {
        if isCI { return true }
        if let obstacle {
            FileHandle.standardError.write(Data("skipping integration tests: \(obstacle)\n".utf8))
            return false
        }
        return true
    }
}

import Foundation

/// Records, per test file system, the loop devices and mounts it made, so that what a crashed
/// test process left behind can be found and released by the next run. It only ever touches
/// resources recorded in a directory whose owning process is gone.
struct ResourceJournal {
    let directory: String
    var file: String { directory + "/resources" }

    func record(loop device: String) throws { try append("loop \(device)") }
    func record(mount path: String) throws { try append("mount \(path)") }

    private func append(_ line: String) throws {
        let handle =
            FileHandle(forWritingAtPath: file)
            ?? {
                _ = FileManager.default.createFile(atPath: file, contents: nil)
                return FileHandle(forWritingAtPath: file)
            }()
        guard let handle else { throw HarnessError("cannot write \(file)") }
        defer { try? handle.close() }
        _ = handle.seekToEndOfFile()
        handle.write(Data((line + "\n").utf8))
        try handle.synchronize()
    }
}

public enum ResourceJanitor {
    /// All test file systems live in directories named `duet-test-*` under this folder.
    static var base: String { ProcessInfo.processInfo.environment["TMPDIR"] ?? "/tmp" }

    private static let sweep: Void = { sweepAbandoned() }()

    /// Sweeps once per process, before the first file system is made.
    static func sweepOnce() { _ = sweep }

    static func makeDirectory() throws -> String {
        var template = Array("\(base)/duet-test-XXXXXX".utf8CString)
        guard let made = template.withUnsafeMutableBufferPointer({ mkdtemp($0.baseAddress!) }) else {
            throw HarnessError("mkdtemp in \(base) failed")
        }
        let directory = String(cString: made)
        try "\(getpid())\n".write(toFile: directory + "/owner", atomically: true, encoding: .utf8)
        return directory
    }

    /// Releases the mounts and loop devices recorded by test processes that no longer run.
    public static func sweepAbandoned() {
        guard let entries = try? FileManager.default.contentsOfDirectory(atPath: base) else { return }
        for entry in entries where entry.hasPrefix("duet-test-") {
            let directory = base + "/" + entry
            guard let owner = try? String(contentsOfFile: directory + "/owner", encoding: .utf8),
                let pid = pid_t(owner.trimmingCharacters(in: .whitespacesAndNewlines))
            else { continue }
            if kill(pid, 0) == 0 || errno == EPERM { continue }
            let lines = (try? String(contentsOfFile: directory + "/resources", encoding: .utf8)) ?? ""
            for line in lines.split(separator: "\n") where line.hasPrefix("mount ") {
                let path = String(line.dropFirst(6))
                if isMounted(path) { unmount(path) }
            }
            for line in lines.split(separator: "\n") where line.hasPrefix("loop ") {
                detach(String(line.dropFirst(5)), ifBackedUnder: directory)
            }
            try? FileManager.default.removeItem(atPath: directory)
        }
    }

    static func isMounted(_ path: String) -> Bool {
        let mounts = (try? String(contentsOfFile: "/proc/mounts", encoding: .utf8)) ?? ""
        return mounts.split(separator: "\n").contains { $0.split(separator: " ").dropFirst().first.map(String.init) == path }
    }

    /// Unmounts `path`, retrying while something still holds it, lazily as a last resort.
    static func unmount(_ path: String) {
        let unmounted = Eventually.poll(timeout: 2, every: 0.1) {
            (try? Command.execute(["umount", path]).status) == 0 || !isMounted(path)
        }
        if !unmounted { _ = try? Command.execute(["umount", "-l", path]) }
    }

    /// Detaches `device` only if its backing file is inside `directory`: a device number may
    /// have been reused by another process since it was recorded.
    static func detach(_ device: String, ifBackedUnder directory: String) {
        guard let result = try? Command.execute(["losetup", "--noheadings", "--output", "BACK-FILE", device]),
            result.status == 0
        else { return }
        let backing = result.output.trimmingCharacters(in: .whitespacesAndNewlines)
        guard backing.hasPrefix(directory + "/") else { return }
        Eventually.poll(timeout: 2, every: 0.1) { (try? Command.execute(["losetup", "-d", device]).status) == 0 }
    }
}

import DuetFS
import DuetSend
import DuetTestSupport
import Foundation
import Glibc

/// Sends with `duet send` (the library, as the CLI runs it) and with the kernel's
/// `btrfs send`, and receives with stock `btrfs receive`.
enum SendHarness {
    /// `duet send` of `snapshot` into `file`; returns the session's report.
    @discardableResult
    static func duetSend(
        _ snapshot: String, parent: String? = nil, cloneSources: [String] = [], proto: UInt32,
        to file: String, useOtherCache: Bool = true, compressedData: Bool = false
    ) throws -> SendSession.Report {
        let fd = open(file, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw HarnessFailure("open \(file)") }
        defer { close(fd) }
        var options = SendSession.Options(snapshots: [snapshot])
        options.parent = parent
        options.cloneSources = cloneSources
        options.protocolVersion = proto
        options.useOtherCache = useOtherCache
        options.compressedData = compressedData
        let session = SendSession(options: options, output: fd)
        try session.run()
        return session.report
    }

    static func kernelSend(_ snapshot: String, parent: String? = nil, proto: UInt32, to file: String, compressedData: Bool = false) throws {
        var arguments = ["btrfs", "-q", "send", "--proto", "\(proto)", "-f", file] + (compressedData ? ["--compressed-data"] : [])
        if let parent { arguments += ["-p", parent] }
        try Command.run(arguments + [snapshot])
    }

    /// How many commands of `type` a stream file holds.
    static func count(_ type: SendCommandType, in file: String) throws -> Int {
        let fd = open(file, O_RDONLY)
        guard fd >= 0 else { throw HarnessFailure("open \(file)") }
        defer { close(fd) }
        var reader = SendStreamReader(source: FileDescriptorByteSource(descriptor: fd))
        var count = 0
        while let command = try reader.next() {
            if command.type == type { count += 1 }
        }
        return count
    }

    static func receive(_ file: String, into directory: String) throws {
        try Command.run(["btrfs", "-q", "receive", "-f", file, directory])
    }

    static func deleteSubvolumes(_ paths: [String]) throws {
        for path in paths where FileManager.default.fileExists(atPath: path) {
            try Command.run(["btrfs", "-q", "subvolume", "delete", path])
        }
    }

    /// Fails with the differences if the manifests differ.
    static func requireSame(_ left: TreeManifest, _ right: TreeManifest, ignoring: Set<String> = [], _ what: String) throws {
        let differences = left.differences(from: right, ignoring: ignoring)
        if !differences.isEmpty {
            throw HarnessFailure("\(what):\n" + differences.joined(separator: "\n"))
        }
    }
}

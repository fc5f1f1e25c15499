import Foundation
import SystemPackage

/// One task of a kind per file system, whatever state directory each was given: an `flock` on
/// `/run/duet/<uuid>.<task>.lock`. The state directory's own lock cannot do this: two scrubs of
/// one file system with different `--state-dir` would each take their own. The holder writes its
/// pid and state directory into the file, so a refusal can name them.
public final class FileSystemLock: Sendable {
    public static let directory = "/run/duet"
    private let descriptor: Int32
    public let path: String

    /// Takes the lock for `task` ("scrub", "watch") on `fileSystem`, or throws a message naming the
    /// holder. The lock is released when this object goes away or the process ends.
    public init(task: String, fileSystem: FileSystemID, stateDirectory: String) throws(DuetError) {
        path = "\(Self.directory)/\(fileSystem).\(task).lock"
        if mkdir(Self.directory, 0o755) != 0, errno != EEXIST { throw DuetError.system("mkdir", Self.directory) }
        try StateDirectory.check(Self.directory)
        let descriptor = NoFollow.open(path, O_RDWR | O_CREAT, mode: 0o644)
        guard descriptor >= 0 else { throw NoFollow.openError(path) }
        if flock(descriptor, LOCK_EX | LOCK_NB) != 0 {
            let holder = Self.holder(descriptor)
            close(descriptor)
            throw DuetError(
                .system(errno: EBUSY),
                "a \(task) of file system \(fileSystem) is already running\(holder): one \(task) per file system at a time, whatever its --state-dir"
            )
        }
        self.descriptor = descriptor
        let note = "\(getpid()) \(stateDirectory)\n"
        ftruncate(descriptor, 0)
        // The note only improves another process's refusal message; the lock is what matters.
        try? FileDescriptor(rawValue: descriptor).writeAll(Array(note.utf8), at: 0)
    }

    deinit { close(descriptor) }

    private static func holder(_ descriptor: Int32) -> String {
        var buffer = [UInt8](repeating: 0, count: 4096)
        let read = buffer.withUnsafeMutableBytes { raw in
            Result { () throws(Errno) in try FileDescriptor(rawValue: descriptor).read(fully: raw, at: 0) }
        }
        guard case .success(let count) = read, count > 0 else { return "" }
        let text = String(decoding: buffer[..<count], as: UTF8.self).trimmingCharacters(in: .newlines)
        guard let space = text.firstIndex(of: " ") else { return "" }
        return " (pid \(text[..<space]), state directory \(text[text.index(after: space)...]))"
    }
}

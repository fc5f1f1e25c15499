import DuetFS
import Foundation
import Glibc
import Synchronization
import SystemPackage

/// Where a send stream goes, and what happens to it when the send does not finish.
///
/// A stream file must never look complete unless it is: `btrfs receive` of a file cut short
/// (a failure, a signal, SIGKILL, a power cut) could otherwise finish a subvolume with data
/// missing. So `-f FILE`, when FILE is a regular file or does not exist yet, is written under a
/// temporary name beside it and renamed over FILE only once END is written and on disk; a
/// failure or a signal removes only that temporary file, never FILE and never anything the send
/// did not create. Anything else (standard output, a device node, a FIFO) is written in place
/// and never removed: a failure cuts the stream with `SendSession.cutMarker` so a receiver fails.
public final class SendOutput: Sendable {
    public enum Kind: Sendable, Equatable {
        case standardOutput
        /// A regular file (or a new one): written as `temporary`, renamed to `target` on commit.
        case replacing(target: String, temporary: String)
        /// A device node or a FIFO given with `-f`.
        case inPlace(path: String)
    }

    /// Why `-f FILE` could not be opened; the text is `btrfs send`'s ("cannot create 'FILE': …").
    public struct OpenFailure: Error, CustomStringConvertible, Sendable {
        public let path: String
        public let errno: Int32
        public var description: String { "cannot create '\(path)': \(String(cString: strerror(errno)))" }
    }

    public let kind: Kind
    public let descriptor: Int32
    /// Shared between the send and a signal handler running on another thread.
    private let state = Mutex(State.open)

    private enum State { case open, committed, abandoned }

    private init(kind: Kind, descriptor: Int32) {
        self.kind = kind
        self.descriptor = descriptor
    }

    public static func standardOutput() -> SendOutput {
        SendOutput(kind: .standardOutput, descriptor: STDOUT_FILENO)
    }

    /// `-f path`. A regular file or a missing one gets a temporary file beside it (keeping an
    /// existing file's mode and owner, as `btrfs send`'s in-place truncation would); anything
    /// else is opened for writing as it is.
    public static func file(_ path: String) throws(OpenFailure) -> SendOutput {
        var status = stat()
        if stat(path, &status) == 0 {
            guard (status.st_mode & S_IFMT) == S_IFREG else {
                do {
                    let descriptor = try FileDescriptor.open(path, .writeOnly)
                    return SendOutput(kind: .inPlace(path: path), descriptor: descriptor.rawValue)
                } catch {
                    throw OpenFailure(path: path, errno: error.rawValue)
                }
            }
            // Through a symbolic link: replace the file it names, not the link.
            guard let resolved = realpath(path, nil) else { throw OpenFailure(path: path, errno: errno) }
            defer { free(resolved) }
            let target = String(cString: resolved)
            let (descriptor, temporary) = try createTemporary(beside: target, reportedAs: path)
            // Best effort: a stream readable by the same users as the file it replaces.
            _ = fchown(descriptor, status.st_uid, status.st_gid)
            _ = fchmod(descriptor, status.st_mode & 0o7777)
            return SendOutput(kind: .replacing(target: target, temporary: temporary), descriptor: descriptor)
        }
        guard errno == ENOENT else { throw OpenFailure(path: path, errno: errno) }
        let (descriptor, temporary) = try createTemporary(beside: path, reportedAs: path)
        return SendOutput(kind: .replacing(target: path, temporary: temporary), descriptor: descriptor)
    }

    /// `.NAME.duet-XXXXXX` in the target's directory (so the rename stays on one file system),
    /// created exclusively: never an existing file, never through a symbolic link.
    static func createTemporary(beside target: String, reportedAs path: String) throws(OpenFailure) -> (Int32, String) {
        let url = URL(fileURLWithPath: target)
        let directory = url.deletingLastPathComponent().path
        let name = url.lastPathComponent
        for _ in 0..<100 {
            let suffix = String(UInt64.random(in: 0..<(1 << 36)), radix: 36)
            let temporary = directory + "/." + name + ".duet-" + suffix
            do {
                let descriptor = try FileDescriptor.open(
                    temporary, .writeOnly, options: [.create, .exclusiveCreate, .noFollow],
                    permissions: [.ownerReadWrite])
                return (descriptor.rawValue, temporary)
            } catch  where error != .fileExists {
                throw OpenFailure(path: path, errno: error.rawValue)
            } catch {}
        }
        throw OpenFailure(path: path, errno: EEXIST)
    }

    public var isTerminal: Bool { isatty(descriptor) != 0 }

    /// The stream is complete (END written): make it durable and, for a temporary file, give it
    /// the final name. A failure here leaves the target as it was.
    public func commit() throws {
        try state.withLock { state in
            guard state == .open else { return }
            switch kind {
            case .standardOutput:
                state = .committed
            case .inPlace(let path):
                // Devices and FIFOs may not support fsync; their data is the receiver's business.
                let synced = fsync(descriptor) == 0 || errno == EINVAL || errno == EROFS
                let code = errno
                close(descriptor)
                state = synced ? .committed : .abandoned
                guard synced else { throw DuetError.system("fsync", path, errno: code) }
            case .replacing(let target, let temporary):
                if fsync(descriptor) != 0 {
                    let code = errno
                    unlink(temporary)
                    close(descriptor)
                    state = .abandoned
                    throw DuetError.system("fsync", temporary, errno: code)
                }
                close(descriptor)
                guard rename(temporary, target) == 0 else {
                    let code = errno
                    unlink(temporary)
                    state = .abandoned
                    throw DuetError.system("rename", "\(temporary) to \(target)", errno: code)
                }
                state = .committed
                // The rename itself must survive a crash, or the old file (or none) comes back.
                let parent = URL(fileURLWithPath: target).deletingLastPathComponent().path
                // A directory we may not open for reading leaves the rename as it is, unsynced.
                if let directory = try? FileDescriptor.open(parent, .readOnly, options: .directory) {
                    let synced = fsync(directory.rawValue) == 0
                    let code = errno
                    directory.closeIgnoringErrors()
                    if !synced { throw DuetError.system("fsync", "the directory of \(target)", errno: code) }
                }
            }
        }
    }

    /// The send failed or was interrupted: remove the temporary file, or cut a stream written in
    /// place so that no receiver takes it for a complete one (`cut`: false when nothing was
    /// written yet, which leaves the output empty as `btrfs send` does). Safe to call more than
    /// once, and from a signal handler's thread while the send is still writing: `beforeExit`
    /// then keeps the descriptor open, so the send's next write cannot land in a file opened meanwhile.
    public func abandon(cut: Bool = true, beforeExit: Bool = false) {
        state.withLock { state in
            guard state == .open else { return }
            switch kind {
            case .standardOutput:
                if cut { cutStream() }
            case .inPlace:
                if cut { cutStream() }
                if !beforeExit { close(descriptor) }
            case .replacing(_, let temporary):
                unlink(temporary)
                if !beforeExit { close(descriptor) }
            }
            state = .abandoned
        }
    }

    /// Whether the stream reached its final name (or its end, for standard output and in place).
    public var isCommitted: Bool {
        state.withLock { $0 == .committed }
    }

    private func cutStream() {
        // Best effort: the stream is already failing, and the failure is what gets reported.
        try? FileDescriptor(rawValue: descriptor).writeAll(SendSession.cutMarker)
    }
}

import DuetFS
import Foundation
import Glibc
import SystemPackage

/// The first stage of `duet send`: the kernel's own send with `NO_FILE_DATA`, which gives every
/// metadata command (names, renames, links, attributes, clones) and an `UPDATE_EXTENT` where
/// file data belongs. The stream goes into a pipe that a reader thread drains into memory: it is
/// small (no file data), and the whole of it is needed before anything can be emitted.
public enum MetadataStream {
    /// What to ask the kernel for.
    public struct Request: Sendable {
        /// Open descriptor of the read-only snapshot's root directory.
        public var snapshot: Int32
        public var snapshotPath: String
        public var parentRoot: UInt64
        public var cloneSources: [UInt64]
        public var version: UInt32
        /// Extra flags (the stream is always requested with `NO_FILE_DATA`).
        public var flags: KernelSend.Flags

        public init(
            snapshot: Int32, snapshotPath: String, parentRoot: UInt64, cloneSources: [UInt64],
            version: UInt32, flags: KernelSend.Flags = []
        ) {
            self.snapshot = snapshot
            self.snapshotPath = snapshotPath
            self.parentRoot = parentRoot
            self.cloneSources = cloneSources
            self.version = version
            self.flags = flags
        }
    }

    /// Runs the send ioctl and returns the raw stream bytes.
    public static func capture(_ request: Request) throws -> [UInt8] {
        let (readEnd, writeEnd) = try pipeEnds(for: request)
        let drain = PipeDrain(descriptor: readEnd)
        let thread = Thread { drain.run() }
        thread.stackSize = 1 << 20
        thread.start()
        var sendError: Error?
        do {
            try KernelSend.send(
                subvolume: request.snapshot, output: writeEnd, parentRoot: request.parentRoot,
                cloneSources: request.cloneSources, flags: request.flags.union(.noFileData),
                version: request.version, subject: request.snapshotPath)
        } catch {
            sendError = error
        }
        close(writeEnd)  // the reader sees end of file once the kernel is done
        drain.finished.wait()
        close(readEnd)
        if let sendError {
            throw explained(sendError)
        }
        if let failure = drain.failure { throw DuetError.system("read (send pipe)", request.snapshotPath, errno: failure) }
        return drain.bytes
    }
}

extension MetadataStream {
    /// A pipe for the kernel's stream, both ends close-on-exec.
    static func pipeEnds(for request: Request) throws -> (read: Int32, write: Int32) {
        var fds: [Int32] = [0, 0]
        guard pipe(&fds) == 0 else { throw DuetError.system("pipe2", request.snapshotPath) }
        _ = fcntl(fds[0], F_SETFD, FD_CLOEXEC)
        _ = fcntl(fds[1], F_SETFD, FD_CLOEXEC)
        return (fds[0], fds[1])
    }

    /// The kernel's refusal, with what to do about the usual cause.
    static func explained(_ sendError: Error) -> Error {
        guard let duet = sendError as? DuetError, duet.kind == .permission else { return sendError }
        return DuetError(
            .permission,
            "\(duet.message). The kernel refuses to send a subvolume that is not read-only "
                + "(make a read-only snapshot with `btrfs subvolume snapshot -r`), and needs CAP_SYS_ADMIN")
    }
}

extension MetadataStream {
    /// Runs the send ioctl on its own thread and hands the read end of its pipe to `consume` as
    /// a stream reader, so the commands are taken apart while the kernel still sends, and the
    /// stream is never held whole (about 110 bytes per file of a snapshot). Whatever `consume`
    /// leaves unread is drained, so the kernel never blocks on a full pipe. The kernel's error
    /// comes first: a stream cut short by it would otherwise show as a malformed stream.
    public static func read<T>(_ request: Request, consume: (inout SendStreamReader<FileDescriptorByteSource>) throws -> T) throws -> T {
        let (readEnd, writeEnd) = try pipeEnds(for: request)
        let sender = KernelSendThread(request: request, output: writeEnd)
        let thread = Thread { sender.run() }
        thread.stackSize = 1 << 20
        thread.start()
        var reader = SendStreamReader(source: FileDescriptorByteSource(descriptor: readEnd))
        let result: Result<T, Error>
        do {
            result = .success(try consume(&reader))
        } catch {
            result = .failure(error)
        }
        // Drained so the kernel's send can finish writing and the thread be joined; a read error
        // ends the drain, and the send's own failure (or the consumer's) is what is reported.
        var rest = [UInt8](repeating: 0, count: 1 << 16)
        let pipe = FileDescriptor(rawValue: readEnd)
        while let count = try? rest.withUnsafeMutableBytes({ try pipe.readSome(into: $0) }), count > 0 {}
        sender.finished.wait()
        close(readEnd)
        if let sendError = sender.failure {
            throw explained(sendError)
        }
        return try result.get()
    }
}

/// `BTRFS_IOC_SEND` into a pipe on its own thread; closes the write end when the kernel is done.
final class KernelSendThread: @unchecked Sendable {
    // @unchecked: `failure` is written by the thread before `finished` is signalled, read after.
    let request: MetadataStream.Request
    let output: Int32
    private(set) var failure: Error?
    let finished = DispatchSemaphore(value: 0)

    init(request: MetadataStream.Request, output: Int32) {
        self.request = request
        self.output = output
    }

    func run() {
        defer { finished.signal() }
        do {
            try KernelSend.send(
                subvolume: request.snapshot, output: output, parentRoot: request.parentRoot,
                cloneSources: request.cloneSources, flags: request.flags.union(.noFileData),
                version: request.version, subject: request.snapshotPath)
        } catch {
            failure = error
        }
        close(output)  // the reader sees end of file once the kernel is done
    }
}

/// Reads a pipe to its end on its own thread.
final class PipeDrain: @unchecked Sendable {
    // @unchecked: `bytes` and `failure` are written by the thread before `finished` is signalled, read after.
    let descriptor: Int32
    private(set) var bytes: [UInt8] = []
    private(set) var failure: Int32?
    let finished = DispatchSemaphore(value: 0)

    init(descriptor: Int32) { self.descriptor = descriptor }

    func run() {
        defer { finished.signal() }
        do {
            bytes = try FileDescriptor(rawValue: descriptor).readAll()
        } catch {
            failure = error.rawValue
        }
    }
}

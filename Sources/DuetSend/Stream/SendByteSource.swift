import DuetFS
import SystemPackage

/// Where a `SendStreamReader` gets its bytes: a pipe or file, or memory.
public protocol SendByteSource {
    /// Reads up to `buffer.count` bytes and returns how many; 0 means the end of the stream.
    mutating func read(into buffer: UnsafeMutableRawBufferPointer) throws(SendIOFailure) -> Int
}

/// Where a `SendStreamWriter` puts its bytes.
public protocol SendByteSink {
    /// Writes all of `bytes` or throws.
    mutating func write(_ bytes: UnsafeRawBufferPointer) throws(SendIOFailure)
}

/// A failed read(2) or write(2); the reader or writer adds the stream offset.
public struct SendIOFailure: Error, Hashable, Sendable {
    public var errno: Int32
    public init(errno: Int32) { self.errno = errno }
}

/// Reads from a file descriptor it does not own (the caller closes it): the read end of the pipe
/// that `BTRFS_IOC_SEND` writes into, a stream file, or standard input.
public struct FileDescriptorByteSource: SendByteSource, Sendable {
    public let descriptor: Int32

    public init(descriptor: Int32) { self.descriptor = descriptor }

    public mutating func read(into buffer: UnsafeMutableRawBufferPointer) throws(SendIOFailure) -> Int {
        do {
            return try FileDescriptor(rawValue: descriptor).readSome(into: buffer)
        } catch {
            throw SendIOFailure(errno: error.rawValue)
        }
    }
}

/// Writes to a file descriptor it does not own; retries short writes, as pipes produce them.
public struct FileDescriptorByteSink: SendByteSink, Sendable {
    public let descriptor: Int32

    public init(descriptor: Int32) { self.descriptor = descriptor }

    public mutating func write(_ bytes: UnsafeRawBufferPointer) throws(SendIOFailure) {
        do {
            try FileDescriptor(rawValue: descriptor).writeAll(bytes)
        } catch {
            throw SendIOFailure(errno: error.rawValue)
        }
    }
}

/// A stream held in memory, readable in pieces of at most `chunkSize` bytes so that tests can
/// exercise every way a command can straddle two reads.
public struct ByteBufferSource: SendByteSource, Sendable {
    public let bytes: [UInt8]
    public private(set) var position = 0
    public var chunkSize: Int

    public init(_ bytes: [UInt8], chunkSize: Int = .max) {
        self.bytes = bytes
        self.chunkSize = max(1, chunkSize)
    }

    public mutating func read(into buffer: UnsafeMutableRawBufferPointer) throws(SendIOFailure) -> Int {
        let count = min(buffer.count, bytes.count - position, chunkSize)
        guard count > 0 else { return 0 }
        bytes.withUnsafeBytes { buffer.copyMemory(from: UnsafeRawBufferPointer(rebasing: $0[position..<position + count])) }
        position += count
        return count
    }
}

/// Collects a written stream in memory.
public struct ByteBufferSink: SendByteSink, Sendable {
    public private(set) var bytes: [UInt8] = []

    public init() {}

    public mutating func write(_ bytes: UnsafeRawBufferPointer) throws(SendIOFailure) {
        self.bytes.append(contentsOf: bytes)
    }
}

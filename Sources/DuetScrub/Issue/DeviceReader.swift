import DuetFS
import Foundation
import Synchronization
import SystemPackage

/// Reads a block device with `O_DIRECT` into page-aligned buffers, so the page cache neither
/// serves stale bytes nor is polluted by the scrub.
public final class DeviceReader: Sendable {
    public let path: String
    private let descriptor: FileDescriptor

    public init(path: String) throws {
        do {
            descriptor = try FileDescriptor.open(path, .readOnly, options: .direct)
        } catch {
            throw DuetError.system("open (O_DIRECT)", path, error)
        }
        self.path = path
    }

    deinit { descriptor.closeIgnoringErrors() }

    /// Reads `length` bytes at `offset` into `buffer` (aligned, at least `length` long).
    public func read(into buffer: UnsafeMutableRawPointer, offset: UInt64, length: Int) throws {
        var done = 0
        let count: Int
        do {
            count = try descriptor.read(fully: UnsafeMutableRawBufferPointer(start: buffer, count: length), at: offset, done: &done)
        } catch {
            throw DuetError.system("pread of \(length - done) bytes at physical \(offset + UInt64(done))", path, error)
        }
        if count < length {
            throw DuetError(
                .system(errno: Errno.ioError.rawValue), "\(path): unexpected end of device at physical \(offset + UInt64(count))")
        }
    }

    /// Reads into a fresh aligned buffer (for confirmation reads and superblocks).
    public func read(offset: UInt64, length: Int) throws -> [UInt8] {
        let buffer = AlignedBuffer(capacity: length)
        try read(into: buffer.pointer, offset: offset, length: length)
        return Array(UnsafeRawBufferPointer(start: buffer.pointer, count: length))
    }
}

/// A page-aligned allocation for O_DIRECT I/O.
// @unchecked: the pointer is owned by one read and then one verification at a time, handed on
// through the reader thread and the pool's lock; the class itself holds no mutable state.
public final class AlignedBuffer: @unchecked Sendable {
    public let pointer: UnsafeMutableRawPointer
    public let capacity: Int

    public init(capacity: Int) {
        pointer = UnsafeMutableRawPointer.allocate(byteCount: max(capacity, 4096), alignment: 4096)
        self.capacity = capacity
    }

    deinit { pointer.deallocate() }
}

/// Read buffers reused across requests. A fresh multi-megabyte allocation per read is an
/// `mmap`, a page fault per 4 KiB and an `munmap`: measured here, that kernel time was about
/// half the CPU a scrub used. The scrub bounds its reads in flight, so the pool stays as small.
final class AlignedBufferPool: Sendable {
    private let free = Mutex<[AlignedBuffer]>([])
    let bufferSize: Int

    init(bufferSize: Int) {
        self.bufferSize = bufferSize
    }

    /// A buffer of at least `length` bytes: a pooled one when it fits, else a fresh one.
    func take(_ length: Int) -> AlignedBuffer {
        guard length <= bufferSize else { return AlignedBuffer(capacity: length) }
        return free.withLock { $0.popLast() } ?? AlignedBuffer(capacity: bufferSize)
    }

    func give(_ buffer: AlignedBuffer) {
        guard buffer.capacity == bufferSize else { return }
        free.withLock { $0.append(buffer) }
    }
}

import DuetFS
import Foundation
import SystemPackage

/// Reads and writes a block device with O_DIRECT, below every cache: how tests inspect what
/// is on a device and inject corruption into one copy.
public enum BlockDevice {
    public static func read(_ device: String, offset: UInt64, length: Int) throws -> [UInt8] {
        try withDescriptor(device, .readOnly) { descriptor, buffer in
            let count = pread(descriptor, buffer, length, off_t(offset))
            guard count == length else { throw HarnessError("pread \(device) at \(offset): \(count)") }
            return Array(UnsafeRawBufferPointer(start: buffer, count: length))
        }
    }

    public static func write(_ device: String, offset: UInt64, bytes: [UInt8]) throws {
        try withDescriptor(device, .writeOnly) { descriptor, buffer in
            bytes.withUnsafeBytes { buffer.copyMemory(from: $0.baseAddress!, byteCount: bytes.count) }
            let count = pwrite(descriptor, buffer, bytes.count, off_t(offset))
            guard count == bytes.count, fsync(descriptor) == 0 else { throw HarnessError("pwrite \(device) at \(offset): \(count)") }
        }
    }

    /// Flips every bit of `length` bytes at `offset + byteOffset` inside the 4 KiB sector at `offset`.
    public static func corrupt(_ device: String, sectorAt offset: UInt64, byteOffset: Int = 100, length: Int = 16) throws {
        var sector = try read(device, offset: offset, length: 4096)
        for index in byteOffset..<(byteOffset + length) { sector[index] ^= 0xFF }
        try write(device, offset: offset, bytes: sector)
    }

    /// Bytes read from the device since boot (`/sys/block/<dev>/stat`, sectors read × 512).
    public static func bytesRead(_ device: String) throws -> UInt64 {
        let name = (device as NSString).lastPathComponent
        let text = try String(contentsOfFile: "/sys/block/\(name)/stat", encoding: .utf8)
        let fields = text.split(separator: " ").compactMap { UInt64($0) }
        return fields[2] * 512
    }

    private static func withDescriptor<T>(
        _ device: String, _ mode: FileDescriptor.AccessMode,
        _ body: (Int32, UnsafeMutableRawPointer) throws -> T
    ) throws -> T {
        let descriptor: Int32
        do {
            descriptor = try FileDescriptor.open(device, mode, options: .direct).rawValue
        } catch {
            throw HarnessError("open \(device): \(String(cString: strerror(error.rawValue)))")
        }
        defer { close(descriptor) }
        var buffer: UnsafeMutableRawPointer?
        guard posix_memalign(&buffer, 4096, 1 << 20) == 0, let buffer else { throw HarnessError("posix_memalign failed") }
        defer { free(buffer) }
        return try body(descriptor, buffer)
    }
}

import CDuet
import CSodium
import CXXHash
import Glibc

/// Computes checksums exactly as btrfs stores them: the first `type.size` bytes of the
/// on-disk checksum field (little-endian for crc32c and xxhash64, digest order otherwise).
public struct Checksummer: Sendable {
    public let type: ChecksumType

    public init(_ type: ChecksumType) {
        self.type = type
        if type == .sha256 || type == .blake2b { Self.initialiseSodium }
    }

    // sodium_init must run once before the hash functions are used; it is idempotent.
    private static let initialiseSodium: Void = { _ = sodium_init() }()

    /// The checksum of `bytes` as btrfs stores it on disk.
    public func digest(_ bytes: UnsafeRawBufferPointer) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: type.size)
        out.withUnsafeMutableBytes { write(bytes, into: $0) }
        return out
    }

    public func digest(_ bytes: [UInt8]) -> [UInt8] {
        bytes.withUnsafeBytes { digest($0) }
    }

    /// Whether `bytes` hash to `expected` (compared over `type.size` bytes), without allocating.
    public func matches(_ bytes: UnsafeRawBufferPointer, expected: UnsafeRawBufferPointer) -> Bool {
        precondition(expected.count >= type.size)
        return withUnsafeTemporaryAllocation(byteCount: 32, alignment: 8) { scratch in
            write(bytes, into: scratch)
            return memcmp(scratch.baseAddress!, expected.baseAddress!, type.size) == 0
        }
    }

    /// Writes the digest into the first `type.size` bytes of `out`.
    public func write(_ bytes: UnsafeRawBufferPointer, into out: UnsafeMutableRawBufferPointer) {
        precondition(out.count >= type.size)
        let base = bytes.baseAddress
        switch type {
        case .crc32c:
            let crc = ~duet_crc32c_update(~0, base, bytes.count)
            out.storeBytes(of: crc.littleEndian, as: UInt32.self)
        case .xxhash64:
            let hash = XXH64(base, bytes.count, 0)
            out.storeBytes(of: UInt64(hash).littleEndian, as: UInt64.self)
        case .sha256:
            _ = crypto_hash_sha256(
                out.baseAddress!.assumingMemoryBound(to: UInt8.self),
                base?.assumingMemoryBound(to: UInt8.self), UInt64(bytes.count))
        case .blake2b:
            _ = crypto_generichash(
                out.baseAddress!.assumingMemoryBound(to: UInt8.self), 32,
                base?.assumingMemoryBound(to: UInt8.self), UInt64(bytes.count), nil, 0)
        }
    }
}

/// CRC32C as the send stream uses it: seed 0 and no final inversion.
public enum CRC32C {
    public static func update(_ crc: UInt32, _ bytes: UnsafeRawBufferPointer) -> UInt32 {
        duet_crc32c_update(crc, bytes.baseAddress, bytes.count)
    }

    public static var isHardwareAccelerated: Bool { duet_crc32c_is_hardware() != 0 }
}

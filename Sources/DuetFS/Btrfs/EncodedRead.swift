import CDuet
import Glibc

/// What `BTRFS_IOC_ENCODED_READ` returned: the extent's bytes as stored (compressed), and how
/// they map onto the file (`struct btrfs_ioctl_encoded_io_args`).
public struct EncodedExtent: Sendable {
    public var bytes: [UInt8]
    /// File bytes from the requested offset that these bytes produce (`len`).
    public var fileLength: UInt64
    /// The decoded length of the whole extent (`unencoded_len`).
    public var unencodedLength: UInt64
    /// Where the requested offset falls in the decoded extent (`unencoded_offset`).
    public var unencodedOffset: UInt64
    /// `BTRFS_ENCODED_IO_COMPRESSION_*` (0 none, 1 zlib, 2 zstd, 3–7 lzo by sector size): the
    /// numbering the v2 send stream uses too.
    public var compression: UInt32
    public var encryption: UInt32
}

public enum EncodedRead {
    /// `BTRFS_IOC_ENCODED_READ` on an open regular file at file offset `offset` (CAP_SYS_ADMIN).
    /// Reads the extent there without decoding it and without the page cache.
    public static func read(descriptor: Int32, offset: UInt64, bufferSize: Int = 256 * 1024, subject: String) throws -> EncodedExtent {
        var buffer = [UInt8](repeating: 0, count: bufferSize)
        var args = btrfs_ioctl_encoded_io_args()
        let result: Int32 = buffer.withUnsafeMutableBytes { raw in
            var vector = iovec(iov_base: raw.baseAddress, iov_len: raw.count)
            return withUnsafePointer(to: &vector) { vectorPointer in
                args.iov = vectorPointer
                args.iovcnt = 1
                args.offset = Int64(offset)
                args.flags = 0
                return duet_ioctl(descriptor, duet_ioc_encoded_read(), &args)
            }
        }
        if result < 0 { throw DuetError.system("BTRFS_IOC_ENCODED_READ (offset \(offset))", subject) }
        return EncodedExtent(
            bytes: Array(buffer[0..<Int(result)]), fileLength: args.len, unencodedLength: args.unencoded_len,
            unencodedOffset: args.unencoded_offset, compression: args.compression, encryption: args.encryption)
    }
}

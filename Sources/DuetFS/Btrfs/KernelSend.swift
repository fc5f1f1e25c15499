import CDuet
import Glibc

/// `BTRFS_IOC_SEND`: the kernel writes a send stream of a read-only subvolume into a file
/// descriptor (`struct btrfs_ioctl_send_args`). The call blocks until the stream is complete,
/// so a pipe given as `output` must be drained by another thread.
public enum KernelSend {
    /// `BTRFS_SEND_FLAG_*`.
    public struct Flags: OptionSet, Sendable, Hashable {
        public let rawValue: UInt64
        public init(rawValue: UInt64) { self.rawValue = rawValue }
        /// `UPDATE_EXTENT(path, offset, size)` instead of `WRITE` commands.
        public static let noFileData = Flags(rawValue: 0x1)
        public static let omitStreamHeader = Flags(rawValue: 0x2)
        public static let omitEndCommand = Flags(rawValue: 0x4)
        /// `version` is valid (v2 and later).
        public static let version = Flags(rawValue: 0x8)
        /// v2 `ENCODED_WRITE` for compressed extents.
        public static let compressed = Flags(rawValue: 0x10)
    }

    /// The highest stream version this kernel sends (`/sys/fs/btrfs/features/send_stream_version`),
    /// 1 if the file is missing (kernels before 5.19).
    public static func highestVersion() -> UInt32 {
        guard let file = fopen("/sys/fs/btrfs/features/send_stream_version", "r") else { return 1 }
        defer { fclose(file) }
        var value: UInt32 = 1
        var buffer = [CChar](repeating: 0, count: 32)
        if fgets(&buffer, 32, file) != nil {
            let text = String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            value = UInt32(text.filter(\.isNumber)) ?? 1
        }
        return value
    }

    /// Runs `BTRFS_IOC_SEND` on the open subvolume `subvolume` writing to `output`.
    ///
    /// - Parameters:
    ///   - parentRoot: the parent's root id for an incremental send, 0 for a full send.
    ///   - cloneSources: root ids the kernel may reference in `CLONE` commands.
    ///   - version: the protocol version; 0 or 1 send v1 (the `version` flag is added for ≥ 2).
    /// - Throws: a `DuetError` naming `subject` and the errno (EPERM: not read-only, or not root).
    public static func send(
        subvolume: Int32, output: Int32, parentRoot: UInt64, cloneSources: [UInt64],
        flags: Flags, version: UInt32, subject: String
    ) throws {
        var flags = flags
        if version >= 2 { flags.insert(.version) }
        var sources = cloneSources
        let result: Int32 = sources.withUnsafeMutableBufferPointer { buffer in
            var args = btrfs_ioctl_send_args()
            args.send_fd = Int64(output)
            args.clone_sources_count = UInt64(buffer.count)
            args.clone_sources = buffer.count > 0 ? buffer.baseAddress : nil
            args.parent_root = parentRoot
            args.flags = flags.rawValue
            args.version = version >= 2 ? version : 0
            return duet_ioctl(subvolume, duet_ioc_send(), &args)
        }
        if result != 0 { throw DuetError.system("BTRFS_IOC_SEND", subject) }
    }
}

import CDuetBPF
import Glibc

/// The mounts this process sees, parsed from `/proc/self/mountinfo` (proc(5)).
///
/// Page-cache events name a file system by its superblock device `s_dev`, which for
/// btrfs is an anonymous device shared by every subvolume and different from the
/// `st_dev` that `stat` reports for any of them. Field 3 of mountinfo (`major:minor`)
/// is that superblock device, so this table is how a path becomes the `device` of a
/// `CacheEvent` and back.
public struct MountTable: Sendable {
    public struct Entry: Sendable, Hashable {
        /// Field 1: unique mount id (matches `statx().stx_mnt_id`).
        public var mountID: Int
        /// Field 2: the parent mount's id.
        public var parentID: Int
        public var major: UInt32
        public var minor: UInt32
        /// Field 4: the directory of the file system mounted here (for btrfs, the subvolume path).
        public var root: String
        /// Field 5: where it is mounted.
        public var mountPoint: String
        /// Field 6: per-mount options.
        public var mountOptions: String
        /// After the `-` separator: file system type, source, per-superblock options.
        public var fileSystemType: String
        public var source: String
        public var superOptions: String

        /// The device as the kernel encodes `dev_t` inside (`super_block.s_dev`, tracepoints, BPF): `major << 20 | minor`.
        public var kernelDevice: UInt32 { MountTable.kernelDevice(major: major, minor: minor) }

        public var isBtrfs: Bool { fileSystemType == "btrfs" }
    }

    public var entries: [Entry]

    public init(entries: [Entry]) {
        self.entries = entries
    }

    /// Reads `/proc/self/mountinfo`.
    public static func current() throws -> MountTable {
        let path = "/proc/self/mountinfo"
        guard let file = fopen(path, "r") else { throw DuetError.system("fopen", path) }
        defer { fclose(file) }
        var text = ""
        var buffer = [CChar](repeating: 0, count: 65536)
        while true {
            let n = fread(&buffer, 1, buffer.count, file)
            if n <= 0 { break }
            text += String(decoding: buffer[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
        }
        return try MountTable(parsing: text)
    }

    /// Parses mountinfo text; throws `.malformed` naming the first line that does not parse.
    public init(parsing text: String) throws {
        var entries: [Entry] = []
        for line in text.split(separator: "\n", omittingEmptySubsequences: true) {
            guard let entry = MountTable.parse(line: line) else {
                throw DuetError.malformed("/proc/self/mountinfo line does not parse: \(line)")
            }
            entries.append(entry)
        }
        self.entries = entries
    }

    /// `major << 20 | minor`, the kernel's internal `dev_t` (`MKDEV`), which is what `s_dev` holds.
    public static func kernelDevice(major: UInt32, minor: UInt32) -> UInt32 {
        (major << 20) | (minor & 0xFFFFF)
    }

    /// The mount that holds `path`: matched by mount id (`statx`) when the kernel reports it,
    /// else by the longest mount point that is a prefix of the resolved path (the last such mount wins,
    /// as a later mount hides an earlier one).
    public func entry(containing path: String) throws -> Entry {
        guard let resolved = realpath(path, nil) else { throw DuetError.system("realpath", path) }
        let absolute = String(cString: resolved)
        free(resolved)

        if let id = MountTable.mountID(of: absolute), let match = entries.last(where: { $0.mountID == id }) {
            return match
        }
        var best: Entry?
        for entry in entries where MountTable.isPrefix(entry.mountPoint, of: absolute) {
            if best == nil || entry.mountPoint.utf8.count >= best!.mountPoint.utf8.count { best = entry }
        }
        guard let found = best else { throw DuetError(.notMounted, "\(path): no mount in /proc/self/mountinfo holds it") }
        return found
    }

    /// The mount holding `path`, which must be btrfs; throws `.notBtrfs` naming the type found.
    public func btrfsEntry(containing path: String) throws -> Entry {
        let entry = try entry(containing: path)
        guard entry.isBtrfs else {
            throw DuetError(.notBtrfs, "\(path) is on \(entry.fileSystemType) (mounted at \(entry.mountPoint)), not btrfs")
        }
        return entry
    }

    /// Mounts of the superblock with this kernel device (`CacheEvent.device`).
    public func entries(kernelDevice: UInt32) -> [Entry] {
        entries.filter { $0.kernelDevice == kernelDevice }
    }

    // MARK: parsing

    static func parse(line: Substring) -> Entry? {
        let fields = line.split(separator: " ", omittingEmptySubsequences: false)
        guard fields.count >= 10, let separator = fields.firstIndex(of: "-"), separator >= 6,
            fields.count >= separator + 4,
            let mountID = Int(fields[0]), let parentID = Int(fields[1])
        else { return nil }
        let numbers = fields[2].split(separator: ":")
        guard numbers.count == 2, let major = UInt32(numbers[0]), let minor = UInt32(numbers[1]) else { return nil }
        return Entry(
            mountID: mountID, parentID: parentID, major: major, minor: minor,
            root: unescape(fields[3]), mountPoint: unescape(fields[4]), mountOptions: String(fields[5]),
            fileSystemType: String(fields[separator + 1]), source: unescape(fields[separator + 2]),
            superOptions: String(fields[separator + 3]))
    }

    /// mountinfo escapes space, tab, newline and backslash as `\ooo` octal.
    static func unescape(_ field: Substring) -> String {
        guard field.contains("\\") else { return String(field) }
        var bytes: [UInt8] = []
        let utf8 = Array(field.utf8)
        var i = 0
        while i < utf8.count {
            if utf8[i] == UInt8(ascii: "\\"), i + 3 < utf8.count {
                let digits = utf8[(i + 1)...(i + 3)]
                if digits.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "7") }) {
                    let value = digits.reduce(0) { $0 * 8 + Int($1 - UInt8(ascii: "0")) }
                    bytes.append(UInt8(truncatingIfNeeded: value))
                    i += 4
                    continue
                }
            }
            bytes.append(utf8[i])
            i += 1
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    static func isPrefix(_ mountPoint: String, of path: String) -> Bool {
        if mountPoint == "/" || mountPoint == path { return true }
        return path.hasPrefix(mountPoint + "/")
    }

    /// `statx(STATX_MNT_ID).stx_mnt_id`, or nil when the kernel does not report it.
    static func mountID(of path: String) -> Int? {
        var id: UInt64 = 0
        guard duet_mount_id(path, &id) == 0 else { return nil }
        return Int(id)
    }
}

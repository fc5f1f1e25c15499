import Foundation
import Glibc

/// Everything receive must reproduce about a tree, per path: type, mode, owner, link count,
/// size, times (atime, mtime; ctime cannot be set by receive), symlink target, xattrs,
/// content digest, and where the file has data (SEEK_DATA/SEEK_HOLE, 4 KiB granularity).
struct TreeManifest: Equatable {
    struct Entry: Equatable, CustomStringConvertible {
        var type: UInt32
        var mode: UInt32
        var uid: UInt32
        var gid: UInt32
        var links: UInt64
        var size: Int64
        var mtime: [Int]
        var atime: [Int]
        var target: String?
        var xattrs: [String: [UInt8]]
        var digest: UInt64?
        var dataMap: [Range<Int64>]?

        var description: String {
            "type \(String(type, radix: 8)) mode \(String(mode, radix: 8)) \(uid):\(gid) links \(links) size \(size) "
                + "mtime \(mtime) atime \(atime) target \(target ?? "-") xattrs \(xattrs.keys.sorted()) digest \(digest.map { String($0, radix: 16) } ?? "-") data \(dataMap.map { "\($0)" } ?? "-")"
        }
    }

    var entries: [String: Entry] = [:]

    init(root: String, includeDataMap: Bool = true) throws {
        try walk(root, relative: ".", includeDataMap: includeDataMap)
    }

    private mutating func walk(_ path: String, relative: String, includeDataMap: Bool) throws {
        var st = stat()
        guard lstat(path, &st) == 0 else { throw HarnessFailure("lstat \(path): \(String(cString: strerror(errno)))") }
        var entry = Entry(
            type: st.st_mode & S_IFMT, mode: st.st_mode & 0o7777, uid: st.st_uid, gid: st.st_gid,
            links: UInt64(st.st_nlink), size: Int64(st.st_size),
            mtime: [Int(st.st_mtim.tv_sec), Int(st.st_mtim.tv_nsec)],
            atime: [Int(st.st_atim.tv_sec), Int(st.st_atim.tv_nsec)],
            target: nil, xattrs: Self.xattrs(path), digest: nil, dataMap: nil)
        // Directory sizes and link counts are btrfs bookkeeping the receiver rebuilds.
        if entry.type == S_IFDIR { entry.links = 0 }
        switch entry.type {
        case S_IFLNK:
            var buffer = [CChar](repeating: 0, count: 4097)
            let count = readlink(path, &buffer, 4096)
            entry.target = String(decoding: buffer[0..<max(count, 0)].map { UInt8(bitPattern: $0) }, as: UTF8.self)
        case S_IFREG:
            let fd = open(path, O_RDONLY)
            guard fd >= 0 else { throw HarnessFailure("open \(path)") }
            defer { close(fd) }
            var hash: UInt64 = 0xcbf2_9ce4_8422_2325
            var buffer = [UInt8](repeating: 0, count: 1 << 20)
            while true {
                let got = read(fd, &buffer, buffer.count)
                guard got >= 0 else { throw HarnessFailure("read \(path): \(String(cString: strerror(errno)))") }
                if got == 0 { break }
                for byte in buffer[0..<got] { hash = (hash ^ UInt64(byte)) &* 0x100_0000_01b3 }
            }
            entry.digest = hash
            if includeDataMap { entry.dataMap = Self.dataMap(fd, size: Int64(st.st_size)) }
        default:
            break
        }
        entries[relative] = entry
        if entry.type == S_IFDIR {
            for name in try FileManager.default.contentsOfDirectory(atPath: path).sorted() {
                try walk(path + "/" + name, relative: relative + "/" + name, includeDataMap: includeDataMap)
            }
        }
    }

    static func xattrs(_ path: String) -> [String: [UInt8]] {
        var names = [CChar](repeating: 0, count: 65536)
        let length = GNU.llistxattr(path, &names, names.count)
        guard length > 0 else { return [:] }
        var result: [String: [UInt8]] = [:]
        for raw in names[0..<length].split(separator: 0) {
            let name = String(decoding: raw.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            var value = [UInt8](repeating: 0, count: 65536)
            let size = GNU.lgetxattr(path, name, &value, value.count)
            result[name] = size >= 0 ? Array(value[0..<size]) : []
        }
        return result
    }

    static func dataMap(_ fd: Int32, size: Int64) -> [Range<Int64>] {
        var ranges: [Range<Int64>] = []
        var position: Int64 = 0
        while position < size {
            let data = lseek(fd, off_t(position), GNU.seekData)
            if data < 0 { break }
            let hole = lseek(fd, data, GNU.seekHole)
            if hole < 0 { break }
            ranges.append(Int64(data)..<Int64(hole))
            position = Int64(hole)
        }
        return ranges
    }

    /// Human-readable differences (at most `limit`), empty if none.
    func differences(from other: TreeManifest, ignoring: Set<String> = [], limit: Int = 12) -> [String] {
        var result: [String] = []
        for path in Set(entries.keys).union(other.entries.keys).sorted() {
            let a = entries[path], b = other.entries[path]
            guard var a, var b else {
                result.append("\(path): \(a == nil ? "missing on the left" : "missing on the right")")
                continue
            }
            if ignoring.contains("dataMap") { a.dataMap = nil; b.dataMap = nil }
            if ignoring.contains("atime") { a.atime = []; b.atime = [] }
            if a != b { result.append("\(path):\n   left  \(a)\n   right \(b)") }
            if result.count >= limit { break }
        }
        return result
    }
}

struct HarnessFailure: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

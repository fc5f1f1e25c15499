import DuetTestSupport
import Foundation
import Glibc

/// A seeded random history of a live subvolume: every kind of change a send stream must
/// carry (DESIGN §3 and the send issue's list). `step(count:)` applies random operations;
/// the caller snapshots between steps.
struct RandomHistory {
    let root: String
    var rng: SeededGenerator
    private(set) var log: [String] = []
    private var counter = 0

    init(root: String, seed: UInt64) {
        self.root = root
        rng = SeededGenerator(seed: seed)
    }

    // MARK: What exists now

    private func list(_ wantDirectories: Bool?) -> [String] {
        var result: [String] = []
        guard let enumerator = FileManager.default.enumerator(atPath: root) else { return [] }
        while let path = enumerator.nextObject() as? String {
            var st = stat()
            guard lstat(root + "/" + path, &st) == 0 else { continue }
            let isDirectory = st.st_mode & S_IFMT == S_IFDIR
            let isRegular = st.st_mode & S_IFMT == S_IFREG
            switch wantDirectories {
            case true?: if isDirectory { result.append(path) }
            case false?: if isRegular { result.append(path) }
            case nil: result.append(path)
            }
        }
        return result.sorted()
    }

    private var files: [String] { list(false) }
    private var directories: [String] { [""] + list(true) }
    private var everything: [String] { list(nil) }

    private mutating func pick(_ items: [String]) -> String? {
        items.isEmpty ? nil : items[Int.random(in: 0..<items.count, using: &rng)]
    }

    private mutating func newName(in directory: String? = nil) -> String {
        counter += 1
        let names = ["a", "b", "long-name-\(counter)-xxxxxxxxxxxxxxxx", "f\(counter)", "ü\(counter)", "d\(counter)"]
        let dir = directory ?? pick(directories)!
        let name = names[Int.random(in: 0..<names.count, using: &rng)] + "_\(counter)"
        return dir.isEmpty ? name : dir + "/" + name
    }

    private func full(_ relative: String) -> String { relative.isEmpty ? root : root + "/" + relative }

    // MARK: Operations

    private mutating func bytes(_ count: Int) -> [UInt8] {
        // Mostly random, sometimes compressible runs, sometimes zeros inside data.
        switch Int.random(in: 0..<6, using: &rng) {
        case 0: return [UInt8](repeating: UInt8.random(in: 0...255, using: &rng), count: count)
        case 1: return [UInt8](repeating: 0, count: count)
        default: return TestData.bytes(count: count, seed: rng.next())
        }
    }

    private mutating func size() -> Int {
        switch Int.random(in: 0..<10, using: &rng) {
        case 0: return 0
        case 1, 2: return Int.random(in: 1...3000, using: &rng)  // inline
        case 3: return Int.random(in: 1...5, using: &rng) * 4096
        case 4: return Int.random(in: 200_000...900_000, using: &rng)
        default: return Int.random(in: 4097...150_000, using: &rng)
        }
    }

    private func write(_ path: String, _ data: [UInt8], at offset: Int, truncate: Bool = false) {
        let fd = open(full(path), O_WRONLY | O_CREAT | (truncate ? O_TRUNC : 0), 0o644)
        guard fd >= 0 else { return }
        defer { close(fd) }
        _ = data.withUnsafeBytes { pwrite(fd, $0.baseAddress, $0.count, off_t(offset)) }
    }

    private func fileSize(_ path: String) -> Int {
        var st = stat()
        return lstat(full(path), &st) == 0 ? Int(st.st_size) : 0
    }

    mutating func step(count: Int) throws {
        for _ in 0..<count { try operation() }
    }

    mutating func operation() throws {
        let choice = Int.random(in: 0..<24, using: &rng)
        switch choice {
        case 0, 1, 2:  // create
            let path = newName()
            write(path, bytes(size()), at: 0, truncate: true)
            log.append("create \(path)")
        case 3, 4:  // overwrite in the middle
            guard let path = pick(files) else { return }
            let size = fileSize(path)
            let offset = size > 0 ? Int.random(in: 0..<size, using: &rng) : 0
            write(path, bytes(Int.random(in: 1...70_000, using: &rng)), at: offset)
            log.append("overwrite \(path) at \(offset)")
        case 5:  // append
            guard let path = pick(files) else { return }
            write(path, bytes(Int.random(in: 1...100_000, using: &rng)), at: fileSize(path))
            log.append("append \(path)")
        case 6:  // truncate shorter or longer
            guard let path = pick(files) else { return }
            let size = Int.random(in: 0...(fileSize(path) * 3 / 2 + 10_000), using: &rng)
            Glibc.truncate(full(path), off_t(size))
            log.append("truncate \(path) \(size)")
        case 7:  // sparse file
            let path = newName()
            Glibc.truncate(full(path), off_t(Int.random(in: 1...8, using: &rng) << 20))
            for _ in 0..<Int.random(in: 1...4, using: &rng) {
                write(path, bytes(Int.random(in: 1...40_000, using: &rng)), at: Int.random(in: 0..<(8 << 20), using: &rng))
            }
            log.append("sparse \(path)")
        case 8:  // punch a hole
            guard let path = pick(files) else { return }
            let size = fileSize(path)
            guard size > 8192 else { return }
            let fd = open(full(path), O_WRONLY)
            let offset = Int.random(in: 0..<size / 4096, using: &rng) * 4096
            _ = GNU.fallocate(fd, GNU.keepSize | GNU.punchHole, Int(offset), Int(Int.random(in: 1...16, using: &rng) * 4096))
            close(fd)
            log.append("punch \(path) \(offset)")
        case 9, 10:  // rename (maybe across directories, maybe over an existing file)
            guard let path = pick(everything) else { return }
            let target = Int.random(in: 0..<4, using: &rng) == 0 ? (pick(files) ?? newName()) : newName()
            if target.hasPrefix(path + "/") || target == path { return }
            if rename(full(path), full(target)) == 0 { log.append("rename \(path) -> \(target)") }
        case 11:  // directory
            let path = newName()
            mkdir(full(path), 0o755)
            log.append("mkdir \(path)")
        case 12:  // move a directory with its subtree
            guard let path = pick(list(true)), let into = pick(directories),
                !(into + "/").hasPrefix(path + "/"), into != path
            else { return }
            let target = newName(in: into)
            if rename(full(path), full(target)) == 0 { log.append("move \(path) -> \(target)") }
        case 13:  // swap two names
            guard let a = pick(everything), let b = pick(everything), a != b,
                !a.hasPrefix(b + "/"), !b.hasPrefix(a + "/")
            else { return }
            if GNU.renameat2(AT_FDCWD, full(a), AT_FDCWD, full(b), GNU.renameExchange) == 0 { log.append("swap \(a) <-> \(b)") }
        case 14:  // hard link
            guard let path = pick(files) else { return }
            let target = newName()
            if link(full(path), full(target)) == 0 { log.append("link \(path) -> \(target)") }
        case 15:  // reflink
            guard let path = pick(files) else { return }
            let target = newName()
            try Command.run(["cp", "--reflink=always", full(path), full(target)])
            log.append("reflink \(path) -> \(target)")
        case 16:  // xattr
            guard let path = pick(everything) else { return }
            var value = bytes(Int.random(in: 0...200, using: &rng))
            if value.isEmpty { value = [1] }
            _ = value.withUnsafeBytes {
                GNU.lsetxattr(full(path), "user.k\(Int.random(in: 0..<3, using: &rng))", $0.baseAddress, $0.count, 0)
            }
            log.append("xattr \(path)")
        case 17:  // setuid, or file capabilities
            guard let path = pick(files) else { return }
            if Bool.random(using: &rng) {
                chmod(full(path), 0o4755)
                log.append("setuid \(path)")
            } else {
                try Command.run(["setcap", "cap_net_raw+ep", full(path)])
                log.append("setcap \(path)")
            }
        case 18:  // owner, mode and times
            guard let path = pick(everything) else { return }
            lchown(full(path), UInt32.random(in: 0...2000, using: &rng), UInt32.random(in: 0...2000, using: &rng))
            var st = stat()
            if lstat(full(path), &st) == 0, st.st_mode & S_IFMT != S_IFLNK {
                chmod(full(path), mode_t.random(in: 0o400...0o777, using: &rng))
            }
            var times = [
                timespec(tv_sec: Int.random(in: 0...2_000_000_000, using: &rng), tv_nsec: Int.random(in: 0..<1_000_000_000, using: &rng)),
                timespec(tv_sec: Int.random(in: 0...2_000_000_000, using: &rng), tv_nsec: Int.random(in: 0..<1_000_000_000, using: &rng))
            ]
            utimensat(AT_FDCWD, full(path), &times, AT_SYMLINK_NOFOLLOW)
            log.append("attrs \(path)")
        case 19:  // fifo or symlink
            let path = newName()
            if Bool.random(using: &rng) {
                mkfifo(full(path), 0o644)
                log.append("fifo \(path)")
            } else {
                let target = pick(everything) ?? "nowhere"
                symlink(Bool.random(using: &rng) ? target : "../dangling/\(target)", full(path))
                log.append("symlink \(path)")
            }
        case 20, 21:  // delete a file or a directory tree
            guard let path = pick(everything) else { return }
            try? FileManager.default.removeItem(atPath: full(path))
            log.append("delete \(path)")
        case 22:  // a directory replaced by a file of the same name
            guard let path = pick(list(true)) else { return }
            try? FileManager.default.removeItem(atPath: full(path))
            write(path, bytes(size()), at: 0, truncate: true)
            log.append("dir->file \(path)")
        default:  // a file replaced by a directory
            guard let path = pick(files) else { return }
            unlink(full(path))
            mkdir(full(path), 0o700)
            write(path + "/inner", bytes(size()), at: 0, truncate: true)
            log.append("file->dir \(path)")
        }
    }
}

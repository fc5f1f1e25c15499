import Glibc

/// The ledger's few file-system operations, each a thin wrapper over the POSIX call it names,
/// with errors that carry the path. Durability rests on three of them: `fsync` of a file,
/// `rename` over the old file, and `fsync` of the directory that holds the new name.
enum LedgerFiles {
    /// `mkdir -p` with mode 0700 for every directory it creates, then `chmod 0700` on the leaf if
    /// it is more open: the ledger tells which disk ranges were read, which is nobody else's business.
    static func makeStateDirectory(_ path: String) throws(LedgerError) {
        var prefix = path.hasPrefix("/") ? "" : "."
        for component in path.split(separator: "/") {
            prefix += "/" + component
            if mkdir(prefix, 0o700) != 0, errno != EEXIST { throw .system(operation: "mkdir", path: prefix, errno: errno) }
        }
        var info = stat()
        guard stat(path, &info) == 0 else { throw .system(operation: "stat", path: path, errno: errno) }
        guard info.st_mode & S_IFMT == S_IFDIR else { throw .system(operation: "mkdir", path: path, errno: ENOTDIR) }
        if info.st_mode & 0o077 != 0, chmod(path, 0o700) != 0 { throw .system(operation: "chmod", path: path, errno: errno) }
    }

    /// Takes `flock(LOCK_EX | LOCK_NB)` on `path`, creating it; returns the descriptor that holds it.
    static func lock(_ path: String) throws(LedgerError) -> Int32 {
        let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw .system(operation: "open", path: path, errno: errno) }
        if flock(fd, LOCK_EX | LOCK_NB) != 0 {
            let code = errno
            close(fd)
            if code == EWOULDBLOCK { throw .locked(path: path) }
            throw .system(operation: "flock", path: path, errno: code)
        }
        return fd
    }

    /// The whole file, or nil if it does not exist.
    static func read(_ path: String) throws(LedgerError) -> [UInt8]? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        if fd < 0 {
            if errno == ENOENT { return nil }
            throw .system(operation: "open", path: path, errno: errno)
        }
        defer { close(fd) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 1 << 20)
        while true {
            let count = chunk.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            if count < 0 {
                if errno == EINTR { continue }
                throw .system(operation: "read", path: path, errno: errno)
            }
            if count == 0 { return bytes }
            bytes.append(contentsOf: chunk[..<count])
        }
    }

    /// Writes every byte at the descriptor's position, retrying short writes and EINTR.
    static func writeAll(_ fd: Int32, _ bytes: [UInt8], path: String) throws(LedgerError) {
        var done = 0
        while done < bytes.count {
            let count = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress! + done, $0.count - done) }
            if count < 0 {
                if errno == EINTR { continue }
                throw .system(operation: "write", path: path, errno: errno)
            }
            done += count
        }
    }

    static func sync(_ fd: Int32, path: String) throws(LedgerError) {
        guard fsync(fd) == 0 else { throw .system(operation: "fsync", path: path, errno: errno) }
    }

    /// Makes a rename or a new name in `directory` durable.
    static func syncDirectory(_ directory: String) throws(LedgerError) {
        let fd = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { throw .system(operation: "open", path: directory, errno: errno) }
        defer { close(fd) }
        try sync(fd, path: directory)
    }

    /// Replaces `name` in `directory` with `bytes` so that a crash at any point leaves either the
    /// old file or the new one, whole: write `name.tmp`, fsync it, rename it over `name`, fsync
    /// the directory.
    static func replaceAtomically(directory: String, name: String, with bytes: [UInt8]) throws(LedgerError) {
        let target = directory + "/" + name
        let temporary = target + ".tmp"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw .system(operation: "open", path: temporary, errno: errno) }
        do {
            try writeAll(fd, bytes, path: temporary)
            try sync(fd, path: temporary)
        } catch {
            close(fd)
            unlink(temporary)
            throw error
        }
        close(fd)
        guard rename(temporary, target) == 0 else {
            let code = errno
            unlink(temporary)
            throw .system(operation: "rename", path: temporary, errno: code)
        }
        try syncDirectory(directory)
    }

    /// Opens `path` for appending, positioned at its end.
    static func openForAppend(_ path: String) throws(LedgerError) -> Int32 {
        let fd = open(path, O_WRONLY | O_APPEND | O_CLOEXEC)
        guard fd >= 0 else { throw .system(operation: "open", path: path, errno: errno) }
        return fd
    }

    static func truncate(_ fd: Int32, to length: Int, path: String) throws(LedgerError) {
        guard ftruncate(fd, off_t(length)) == 0 else { throw .system(operation: "ftruncate", path: path, errno: errno) }
    }

    static func size(_ path: String) -> Int {
        var info = stat()
        return stat(path, &info) == 0 ? Int(info.st_size) : 0
    }
}

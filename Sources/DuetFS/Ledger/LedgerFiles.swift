import Glibc
import SystemPackage

/// The ledger's few file-system operations, each a thin wrapper over the POSIX call it names,
/// with errors that carry the path. Durability rests on three of them: `fsync` of a file,
/// `rename` over the old file, and `fsync` of the directory that holds the new name.
enum LedgerFiles {
    /// Creates and checks the state directory (`StateDirectory.prepare`).
    static func makeStateDirectory(_ path: String) throws(LedgerError) {
        do {
            try StateDirectory.prepare(path)
        } catch {
            throw .unsafe(path: path, reason: error.message)
        }
    }

    /// Takes `flock(LOCK_EX | LOCK_NB)` on `path`, creating it; returns the descriptor that holds it.
    static func lock(_ path: String) throws(LedgerError) -> Int32 {
        let fd = NoFollow.open(path, O_RDWR | O_CREAT)
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
        let fd = NoFollow.open(path, O_RDONLY)
        if fd < 0 {
            if errno == ENOENT { return nil }
            throw .system(operation: "open", path: path, errno: errno)
        }
        defer { close(fd) }
        do {
            return try FileDescriptor(rawValue: fd).readAll(chunkSize: 1 << 20)
        } catch {
            throw .system(operation: "read", path: path, errno: error.rawValue)
        }
    }

    /// Writes every byte at the descriptor's position.
    static func writeAll(_ fd: Int32, _ bytes: [UInt8], path: String) throws(LedgerError) {
        do {
            try FileDescriptor(rawValue: fd).writeAll(bytes)
        } catch {
            throw .system(operation: "write", path: path, errno: error.rawValue)
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
    /// old file or the new one, whole: write a temporary file, fsync it, rename it over `name`, fsync
    /// the directory. The temporary name is new each time and created with `O_EXCL | O_NOFOLLOW`,
    /// so nothing planted in the directory can redirect the write.
    static func replaceAtomically(directory: String, name: String, with bytes: [UInt8]) throws(LedgerError) {
        let target = directory + "/" + name
        let fd: Int32
        let temporary: String
        do {
            (fd, temporary) = try NoFollow.createTemporary(beside: target, mode: 0o600)
        } catch {
            throw .unsafe(path: target, reason: error.message)
        }
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
        let fd = NoFollow.open(path, O_WRONLY | O_APPEND)
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

extension LedgerFiles {
    /// Removes temporary files a crash left beside `name` in `directory`.
    static func removeLeftoverTemporaries(of name: String, in directory: String) {
        guard let handle = opendir(directory) else { return }
        defer { closedir(handle) }
        var leftovers: [String] = []
        while let entry = readdir(handle) {
            let entryName = withUnsafeBytes(of: entry.pointee.d_name) { String(cString: $0.bindMemory(to: CChar.self).baseAddress!) }
            if NoFollow.isTemporary(entryName, for: name) { leftovers.append(entryName) }
        }
        for leftover in leftovers { unlink(directory + "/" + leftover) }
    }
}

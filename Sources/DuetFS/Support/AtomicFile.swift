import Foundation

/// Whole-file replacement that survives a crash at any point and never writes through a link:
/// the data goes to a new temporary name (`NoFollow.createTemporary`), is fsync'd, and is renamed
/// over `path` (a rename replaces a link at `path` itself, never its target).
public enum AtomicFile {
    public static func write(_ data: Data, to path: String, mode: mode_t = 0o600) throws {
        let (descriptor, temporary) = try NoFollow.createTemporary(beside: path, mode: mode)
        var written = 0
        data.withUnsafeBytes { bytes in
            while written < bytes.count {
                let count = Glibc.write(descriptor, bytes.baseAddress! + written, bytes.count - written)
                if count < 0, errno == EINTR { continue }
                if count <= 0 { break }
                written += count
            }
        }
        let writeError = errno
        guard written == data.count else {
            close(descriptor)
            unlink(temporary)
            throw DuetError.system("write", temporary, errno: writeError)
        }
        let synced = fsync(descriptor)
        let syncError = errno
        close(descriptor)
        guard synced == 0 else {
            unlink(temporary)
            throw DuetError.system("fsync", temporary, errno: syncError)
        }
        guard rename(temporary, path) == 0 else {
            let code = errno
            unlink(temporary)
            throw DuetError.system("rename", path, errno: code)
        }
        let directory = open((path as NSString).deletingLastPathComponent, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if directory >= 0 {
            fsync(directory)
            close(directory)
        }
    }

    /// The whole of a small file, or nil if it does not exist; a link at `path` is an error.
    public static func read(_ path: String) throws -> Data? {
        let descriptor = NoFollow.open(path, O_RDONLY)
        if descriptor < 0 {
            if errno == ENOENT { return nil }
            throw NoFollow.openError(path)
        }
        defer { close(descriptor) }
        var data = Data()
        var chunk = [UInt8](repeating: 0, count: 64 << 10)
        while true {
            let count = chunk.withUnsafeMutableBytes { Glibc.read(descriptor, $0.baseAddress, $0.count) }
            if count < 0, errno == EINTR { continue }
            if count < 0 { throw DuetError.system("read", path) }
            if count == 0 { return data }
            data.append(contentsOf: chunk[..<count])
        }
    }
}

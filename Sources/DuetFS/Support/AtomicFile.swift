import Foundation
import SystemPackage

/// Whole-file replacement that survives a crash at any point and never writes through a link:
/// the data goes to a new temporary name (`NoFollow.createTemporary`), is fsync'd, and is renamed
/// over `path` (a rename replaces a link at `path` itself, never its target).
public enum AtomicFile {
    public static func write(_ data: Data, to path: String, mode: mode_t = 0o600) throws {
        let (descriptor, temporary) = try NoFollow.createTemporary(beside: path, mode: mode)
        do {
            try FileDescriptor(rawValue: descriptor).writeAll([UInt8](data))
        } catch {
            close(descriptor)
            unlink(temporary)
            throw DuetError.system("write", temporary, error)
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
        do {
            return Data(try FileDescriptor(rawValue: descriptor).readAll())
        } catch {
            throw DuetError.system("read", path, error)
        }
    }
}

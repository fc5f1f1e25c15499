import DuetFS
import Foundation
import SystemPackage

/// The files `duet debug compare-sources` reads: every regular, non-empty file under the mount
/// (subvolumes and snapshots included), each round read whole in 1 MiB preads and then evicted
/// (`POSIX_FADV_DONTNEED`), so each round adds and removes every page of every file.
struct CompareWorkload {
    struct File {
        var path: String
        var root: UInt64
        var inode: UInt64
        var size: UInt64
    }

    let files: [File]

    /// "root:inode" of each file: events of the same inode under another root are not the file's.
    var keys: Set<String> { Set(files.map { "\($0.root):\($0.inode)" }) }
    var inodes: Set<UInt64> { Set(files.map(\.inode)) }
    /// Pages one round reads.
    var pages: UInt64 { files.reduce(0) { $0 + ($1.size + pageSize - 1) / pageSize } }

    init(under mount: String) throws {
        var files: [File] = []
        var directories = [mount]
        while let directory = directories.popLast() {
            for name in try FileManager.default.contentsOfDirectory(atPath: directory) {
                let path = directory + "/" + name
                var info = stat()
                guard lstat(path, &info) == 0 else { continue }
                switch info.st_mode & S_IFMT {
                case S_IFDIR: directories.append(path)
                case S_IFREG where info.st_size > 0:
                    files.append(
                        File(path: path, root: try Subvolumes.id(of: path), inode: UInt64(info.st_ino), size: UInt64(info.st_size)))
                default: break
                }
            }
        }
        self.files = files.sorted { $0.path < $1.path }
    }

    /// Drops every file's pages, so that the first round reads them all from disk.
    func evict() throws {
        for file in files {
            let descriptor: FileDescriptor
            do { descriptor = try FileDescriptor.open(file.path, .readOnly) } catch { throw DuetError.system("open", file.path, error) }
            defer { descriptor.closeIgnoringErrors() }
            try Self.dropPages(descriptor, file.path)
        }
    }

    /// One round: each file read whole through `buffer`, then its pages dropped.
    func readAndEvict(through buffer: UnsafeMutableRawBufferPointer) throws {
        for file in files {
            let descriptor: FileDescriptor
            do { descriptor = try FileDescriptor.open(file.path, .readOnly) } catch { throw DuetError.system("open", file.path, error) }
            defer { descriptor.closeIgnoringErrors() }
            var offset: UInt64 = 0
            while true {
                let n: Int
                do { n = try descriptor.read(fully: buffer, at: offset) } catch { throw DuetError.system("pread", file.path, error) }
                offset += UInt64(n)
                if n < buffer.count { break }
            }
            try Self.dropPages(descriptor, file.path)
        }
    }

    private static func dropPages(_ descriptor: FileDescriptor, _ path: String) throws {
        let rc = posix_fadvise(descriptor.rawValue, 0, 0, POSIX_FADV_DONTNEED)
        if rc != 0 { throw DuetError.system("posix_fadvise", path, errno: rc) }
    }
}

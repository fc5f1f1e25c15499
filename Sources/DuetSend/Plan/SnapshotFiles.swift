import DuetFS
import Glibc

/// The snapshot's files that data is read from, each stored once as its inode and final path.
/// Pieces name a file by its index here, not by a live descriptor: a snapshot of a million
/// files must neither hold a million descriptors (`ulimit -n` is 1024 on Debian) nor a
/// heap object per file. Paths live back to back in one byte array.
public struct SnapshotFileTable: Sendable {
    private var pathBytes: [UInt8] = []
    /// End of each file's path in `pathBytes`; the start is the previous end.
    private var pathEnds: [UInt32] = []
    private var inodes: [UInt64] = []

    public init() {}

    public var count: Int { inodes.count }

    /// Room for `files` files of `pathBytes` path bytes in all, so a million-file table does
    /// not hold its old and new arrays at once while it grows.
    public mutating func reserve(files: Int, pathBytes: Int) {
        self.pathBytes.reserveCapacity(pathBytes)
        pathEnds.reserveCapacity(files)
        inodes.reserveCapacity(files)
    }

    /// Adds a file and returns its index.
    public mutating func add(path: SendPath, inode: UInt64) -> UInt32 {
        pathBytes += path.bytes
        pathEnds.append(UInt32(pathBytes.count))
        inodes.append(inode)
        return UInt32(inodes.count - 1)
    }

    public func inode(_ file: UInt32) -> UInt64 { inodes[Int(file)] }

    public func path(_ file: UInt32) -> SendPath {
        let end = Int(pathEnds[Int(file)])
        let start = file == 0 ? 0 : Int(pathEnds[Int(file) - 1])
        return SendPath(bytes: Array(pathBytes[start..<end]))
    }

    /// Whether `file`'s path is `path`, without building a `SendPath`.
    func hasPath(_ file: UInt32, _ path: SendPath) -> Bool {
        let end = Int(pathEnds[Int(file)])
        let start = file == 0 ? 0 : Int(pathEnds[Int(file) - 1])
        return pathBytes[start..<end].elementsEqual(path.bytes)
    }
}

/// Descriptors of the snapshot's files, opened by final path when their data is read and
/// closed again: at most `capacity` are open, the least recently used closed first. A snapshot
/// is read-only, so a path names the same inode for the whole send; the inode is checked
/// anyway, so a wrong path can never send another file's bytes.
public final class SnapshotDescriptors: @unchecked Sendable {
    // @unchecked: used by one send on one thread (the planner, then the emitter).
    public let snapshot: Int32
    public let snapshotPath: String
    public private(set) var table: SnapshotFileTable
    public let capacity: Int
    private var open: [(file: UInt32, descriptor: Int32, used: UInt64)] = []
    private var clock: UInt64 = 0
    /// How many opens the send made (tests: bounded reuse, not one per read).
    public private(set) var opens = 0

    /// A quarter of the descriptor limit, at most 64: the rest is for the process's other
    /// files (the stream, the kernel send's pipe, eBPF maps, the alias subvolumes' files).
    public static var defaultCapacity: Int {
        var limit = rlimit()
        guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 else { return 16 }
        return Int(max(4, min(64, limit.rlim_cur / 4)))
    }

    public init(
        snapshot: Int32, snapshotPath: String, table: SnapshotFileTable = SnapshotFileTable(),
        capacity: Int = SnapshotDescriptors.defaultCapacity
    ) {
        self.snapshot = snapshot
        self.snapshotPath = snapshotPath
        self.table = table
        self.capacity = max(capacity, 1)
    }

    deinit { closeAll() }

    /// The most descriptors this keeps open at once.
    public var openCount: Int { open.count }

    func reserve(files: Int, pathBytes: Int) {
        table.reserve(files: files, pathBytes: pathBytes)
    }

    /// Adds the file at final `path`: opens it, notes its inode, and returns its index.
    /// The caller uses `descriptor(of:)` for it right away, which finds it open.
    func add(path: SendPath) throws -> UInt32 {
        let descriptor = try openFile(path, expectedInode: nil)
        var status = stat()
        guard fstat(descriptor, &status) == 0 else {
            close(descriptor)
            throw DuetError.system("fstat", snapshotPath + "/" + path.description)
        }
        let file = table.add(path: path, inode: UInt64(status.st_ino))
        keep(file, descriptor)
        return file
    }

    /// The open descriptor of `file`, valid until the next call of `descriptor(of:)` or `add`.
    public func descriptor(of file: UInt32) throws -> Int32 {
        clock += 1
        if let slot = open.firstIndex(where: { $0.file == file }) {
            open[slot].used = clock
            return open[slot].descriptor
        }
        let descriptor = try openFile(table.path(file), expectedInode: table.inode(file))
        keep(file, descriptor)
        return descriptor
    }

    public func closeAll() {
        for entry in open { close(entry.descriptor) }
        open = []
    }

    private func keep(_ file: UInt32, _ descriptor: Int32) {
        clock += 1
        if open.count >= capacity, let oldest = open.indices.min(by: { open[$0].used < open[$1].used }) {
            close(open[oldest].descriptor)
            open.remove(at: oldest)
        }
        open.append((file, descriptor, clock))
    }

    private func openFile(_ path: SendPath, expectedInode: UInt64?) throws -> Int32 {
        let descriptor = (path.bytes + [0]).withUnsafeBufferPointer { name in
            name.withMemoryRebound(to: CChar.self) { openat(snapshot, $0.baseAddress!, O_RDONLY | O_CLOEXEC | O_NOFOLLOW) }
        }
        guard descriptor >= 0 else { throw DuetError.system("open", snapshotPath + "/" + path.description) }
        opens += 1
        if let expectedInode {
            var status = stat()
            guard fstat(descriptor, &status) == 0, UInt64(status.st_ino) == expectedInode else {
                close(descriptor)
                throw DuetError(
                    .malformed, "\(snapshotPath)/\(path) is no longer inode \(expectedInode): the snapshot changed during the send")
            }
        }
        return descriptor
    }
}

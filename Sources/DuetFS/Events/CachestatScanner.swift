import CDuet
import Glibc
import Synchronization

/// Which pages of open files are in the page cache: `cachestat(2)` and `mincore(2)`, as root.
///
/// Both need the caller to own the file or be able to write it (root can): unprivileged,
/// cachestat fails with EPERM and mincore claims every page resident (reference §1.7).
public enum PageResidency {
    /// How to find exact runs of resident pages once cachestat says a file has some.
    public enum Method: String, Sendable, CaseIterable {
        /// `mincore` on a read-only `MAP_SHARED` mapping, in 1 GiB windows that cachestat says are
        /// not empty: cost linear in the cached windows' size.
        case mincore
        /// cachestat over 1 MiB windows, then halves of the partly cached ones until each range is
        /// all or nothing: cheap for few long runs, expensive for many short ones.
        case cachestatBisection
        /// cachestat over 1 MiB windows; `mincore` (on one mapping of the file) only for the windows
        /// that are partly cached. Bounded both ways: at most 1024 cachestat calls per GiB, plus one
        /// mincore per partly cached MiB.
        case hybrid
    }

    /// `cachestat(2)` counters for a byte range (`length` 0: to the end of the file).
    public struct Counters: Sendable, Equatable {
        public var cached: UInt64
        public var dirty: UInt64
        public var writeback: UInt64
        public var evicted: UInt64
        public var recentlyEvicted: UInt64
    }

    /// `cachestat(fd, {offset, length}, &cstat, 0)`, syscall 451.
    public static func cachestat(_ fd: Int32, offset: UInt64 = 0, length: UInt64 = 0, subject: @autoclosure () -> String) throws -> Counters
    {
        var out = duet_cachestat()
        guard duet_cachestat(fd, offset, length, &out) == 0 else {
            throw DuetError.system("cachestat", subject())
        }
        return Counters(
            cached: out.nr_cache, dirty: out.nr_dirty, writeback: out.nr_writeback,
            evicted: out.nr_evicted, recentlyEvicted: out.nr_recently_evicted)
    }

    /// Runs of pages (page indexes) of `pages` for which `count` over the range equals its length,
    /// found by bisection: a range counted 0 is dropped, a full one is a run, others are halved.
    static func bisect(_ pages: Range<UInt64>, count: (Range<UInt64>) throws -> UInt64, into runs: inout ExtentSet, calls: inout UInt64)
        rethrows
    {
        guard !pages.isEmpty else { return }
        calls += 1
        let n = try count(pages)
        if n == 0 { return }
        if n >= UInt64(pages.count) {
            runs.insert(pages)
            return
        }
        let middle = pages.lowerBound + UInt64(pages.count) / 2
        try bisect(pages.lowerBound..<middle, count: count, into: &runs, calls: &calls)
        try bisect(middle..<pages.upperBound, count: count, into: &runs, calls: &calls)
    }

    /// Resident pages of the open file `fd` of `size` bytes, with `method`. `calls` counts syscalls.
    static func residentPages(_ fd: Int32, size: UInt64, method: Method, subject: String, calls: inout UInt64) throws -> ExtentSet {
        let pageCount = (size + pageSize - 1) / pageSize
        var runs = ExtentSet()
        switch method {
        case .cachestatBisection:
            // 1 MiB windows first (a fully cached GiB costs 1024 calls, about 9 ms), then bisect
            // only the windows that are partly cached.
            let windowPages: UInt64 = 256
            var first: UInt64 = 0
            while first < pageCount {
                let window = first..<min(first + windowPages, pageCount)
                try bisect(
                    window,
                    count: {
                        try cachestat(fd, offset: $0.lowerBound * pageSize, length: UInt64($0.count) * pageSize, subject: subject).cached
                    },
                    into: &runs, calls: &calls)
                first = window.upperBound
            }
        case .hybrid:
            let windowPages: UInt64 = 256
            let chunkPages: UInt64 = (1 << 30) / pageSize
            var vector = [UInt8](repeating: 0, count: Int(windowPages))
            var chunkFirst: UInt64 = 0
            while chunkFirst < pageCount {
                let chunkCount = min(chunkPages, pageCount - chunkFirst)
                defer { chunkFirst += chunkCount }
                var mapping: UnsafeMutableRawPointer?
                defer { if let mapping { munmap(mapping, Int(chunkCount * pageSize)) } }
                var first = chunkFirst
                while first < chunkFirst + chunkCount {
                    let window = first..<min(first + windowPages, chunkFirst + chunkCount)
                    first = window.upperBound
                    calls += 1
                    let cached = try cachestat(
                        fd, offset: window.lowerBound * pageSize, length: UInt64(window.count) * pageSize, subject: subject
                    ).cached
                    if cached == 0 { continue }
                    if cached >= UInt64(window.count) {
                        runs.insert(window)
                        continue
                    }
                    if mapping == nil {
                        calls += 2
                        guard let address = mmap(nil, Int(chunkCount * pageSize), PROT_READ, MAP_SHARED, fd, off_t(chunkFirst * pageSize)),
                            address != MAP_FAILED
                        else { throw DuetError.system("mmap", subject) }
                        mapping = address
                    }
                    calls += 1
                    let address = mapping! + Int((window.lowerBound - chunkFirst) * pageSize)
                    let rc = vector.withUnsafeMutableBufferPointer { mincore(address, window.count * Int(pageSize), $0.baseAddress) }
                    guard rc == 0 else { throw DuetError.system("mincore", subject) }
                    vector.withUnsafeBufferPointer { Self.collectRuns($0, count: window.count, base: window.lowerBound, into: &runs) }
                }
            }
        case .mincore:
            let windowPages: UInt64 = (1 << 30) / pageSize
            var vector = [UInt8](repeating: 0, count: Int(min(windowPages, pageCount)))
            var first: UInt64 = 0
            while first < pageCount {
                let count = min(windowPages, pageCount - first)
                defer { first += count }
                if first != 0 || count != pageCount {
                    calls += 1
                    if try cachestat(fd, offset: first * pageSize, length: count * pageSize, subject: subject).cached == 0 { continue }
                }
                let length = Int(count * pageSize)
                calls += 2
                guard let address = mmap(nil, length, PROT_READ, MAP_SHARED, fd, off_t(first * pageSize)), address != MAP_FAILED else {
                    throw DuetError.system("mmap", subject)
                }
                defer { munmap(address, length) }
                let rc = vector.withUnsafeMutableBufferPointer { mincore(address, length, $0.baseAddress) }
                guard rc == 0 else { throw DuetError.system("mincore", subject) }
                vector.withUnsafeBufferPointer { bytes in
                    Self.collectRuns(bytes, count: Int(count), base: first, into: &runs)
                }
            }
        }
        return runs
    }

    /// Runs of bytes with bit 0 set in a mincore vector, skipping 8 bytes at a time where none is.
    static func collectRuns(_ bytes: UnsafeBufferPointer<UInt8>, count: Int, base: UInt64, into runs: inout ExtentSet) {
        guard let start = bytes.baseAddress else { return }
        let raw = UnsafeRawPointer(start)
        var i = 0
        var runStart: Int?
        while i < count {
            if i & 7 == 0, i + 8 <= count {
                let word = raw.loadUnaligned(fromByteOffset: i, as: UInt64.self) & 0x0101_0101_0101_0101
                if word == 0, runStart == nil { i += 8; continue }
                if word == 0x0101_0101_0101_0101, runStart != nil { i += 8; continue }
            }
            if start[i] & 1 != 0 {
                if runStart == nil { runStart = i }
            } else if let begin = runStart {
                runs.insert((base + UInt64(begin))..<(base + UInt64(i)))
                runStart = nil
            }
            i += 1
        }
        if let begin = runStart { runs.insert((base + UInt64(begin))..<(base + UInt64(count))) }
    }

    /// Dirty or under-writeback pages among `resident`, by cachestat bisection over each resident run.
    static func dirtyPages(_ fd: Int32, within resident: ExtentSet, subject: String, calls: inout UInt64) throws -> ExtentSet {
        var runs = ExtentSet()
        for run in resident {
            try bisect(
                run,
                count: { range in
                    let c = try cachestat(fd, offset: range.lowerBound * pageSize, length: UInt64(range.count) * pageSize, subject: subject)
                    return c.dirty + c.writeback
                }, into: &runs, calls: &calls)
        }
        return runs
    }
}

/// What one file has in the page cache: the unit of a sweep.
public struct FileResidency: Sendable, Equatable {
    public var device: UInt32
    public var root: UInt64
    public var inode: UInt64
    /// Resident page indexes.
    public var resident: ExtentSet

    /// Dirty or under-writeback page indexes (a subset of `resident`).
    public var dirty: ExtentSet
    /// `st_mtim` and `st_ctim` in nanoseconds, and the size: a change between sweeps means the file
    /// was written, so pages that appeared meanwhile may be writes, not reads.
    public var modification: UInt64
    public var change: UInt64
    public var size: UInt64

    public var key: InodeKey { InodeKey(root: root, inode: inode) }
}

/// The scan at registration (`CachedPageScanner`) and the sweep behind `CachestatPollingSource`:
/// walks every regular file of the scope's subvolumes through their mount paths, asks cachestat
/// about the whole file, skips files with nothing cached, and finds the exact resident runs of the
/// others (`PageResidency.Method`, `mincore` by default: see the README for measurements). Reports
/// `.added` for each resident run, and `.dirtied` for the exact dirty (or under-writeback) runs,
/// found by cachestat bisection when the file's counters say it has any.
///
/// Subvolumes are found with libbtrfsutil from each mount given; a root is reachable when the
/// mounted subvolume contains it (a mount of the top level reaches all). Nested subvolumes are not
/// entered while walking their parent (their `st_dev` differs): they are walked as their own root.
/// Files that vanish during the walk are skipped. Needs root.
public struct CachestatScanner: CachedPageScanner, Sendable {
    public struct Statistics: Sendable, Equatable {
        public var files: UInt64 = 0
        public var cachedFiles: UInt64 = 0
        public var bytesExamined: UInt64 = 0
        public var syscalls: UInt64 = 0
        public var residentPages: UInt64 = 0
        public var dirtyPages: UInt64 = 0
        /// Roots in scope that no mount reaches.
        public var unreachableRoots: UInt64 = 0
        public var errors: UInt64 = 0
        public var seconds: Double = 0

        public init() {}
    }

    /// Root id → directory, per superblock device.
    public let directories: [UInt32: [UInt64: String]]
    public var method: PageResidency.Method
    /// Events per delivered batch.
    public var batchSize = 4096

    /// Resolves `mounts` (mount points of btrfs file systems, or any directory in a mounted
    /// subvolume) to their superblock devices and every subvolume each reaches.
    public init(mounts: [String], method: PageResidency.Method = .hybrid) throws {
        let table = try MountTable.current()
        var directories: [UInt32: [UInt64: String]] = [:]
        for mount in mounts {
            let entry = try table.btrfsEntry(containing: mount)
            var roots = directories[entry.kernelDevice] ?? [:]
            let mountedRoot = try Subvolumes.id(of: entry.mountPoint)
            let mounted = entry.root == "/" ? "" : String(entry.root.dropFirst())
            func add(_ id: UInt64, _ path: String) {
                // `path` is relative to the top level; reachable when inside the mounted subvolume.
                if mounted.isEmpty {
                    roots[id] = roots[id] ?? (path.isEmpty ? entry.mountPoint : entry.mountPoint + "/" + path)
                } else if path == mounted {
                    roots[id] = roots[id] ?? entry.mountPoint
                } else if path.hasPrefix(mounted + "/") {
                    roots[id] = roots[id] ?? entry.mountPoint + "/" + path.dropFirst(mounted.count + 1)
                }
            }
            if mountedRoot == Subvolumes.topLevelID { add(Subvolumes.topLevelID, "") }
            for subvolume in try Subvolumes.list(mountPath: entry.mountPoint) { add(subvolume.id, subvolume.path) }
            roots[mountedRoot] = roots[mountedRoot] ?? entry.mountPoint
            directories[entry.kernelDevice] = roots
        }
        self.directories = directories
        self.method = method
    }

    /// Uses the given directories as they are (root id → directory, per device).
    public init(directories: [UInt32: [UInt64: String]], method: PageResidency.Method = .hybrid) {
        self.directories = directories
        self.method = method
    }

    // MARK: CachedPageScanner

    public func scanCachedPages(in scope: HubScope, deliver: ([CacheEvent]) -> Void) throws {
        var batch: [CacheEvent] = []
        var statistics = Statistics()
        try sweep(scope, statistics: &statistics) { file in
            for run in file.resident {
                batch.append(
                    CacheEvent(
                        kind: .added, device: file.device, root: file.root, inode: file.inode,
                        firstPage: run.lowerBound, pageCount: UInt64(run.count)))
            }
            for run in file.dirty {
                batch.append(
                    CacheEvent(
                        kind: .dirtied, device: file.device, root: file.root, inode: file.inode,
                        firstPage: run.lowerBound, pageCount: UInt64(run.count)))
            }
            if batch.count >= batchSize {
                deliver(batch)
                batch.removeAll(keepingCapacity: true)
            }
        }
        if !batch.isEmpty { deliver(batch) }
    }

    // MARK: Sweeping

    /// Calls `body` with every file of `scope` that has pages cached.
    public func sweep(_ scope: HubScope, statistics: inout Statistics, _ body: (FileResidency) throws -> Void) throws {
        let started = SystemClock.monotonicNanoseconds()
        defer { statistics.seconds += Double(SystemClock.monotonicNanoseconds() - started) / 1e9 }
        for (device, scopeRoots) in scope.devices.sorted(by: { $0.key < $1.key }) {
            guard let known = directories[device] else {
                statistics.unreachableRoots += UInt64(scopeRoots?.count ?? 1)
                continue
            }
            let roots = (scopeRoots.map { Array($0) } ?? Array(known.keys)).sorted()
            for root in roots {
                guard let directory = known[root] else {
                    statistics.unreachableRoots += 1
                    continue
                }
                try sweep(root: root, directory: directory, device: device, statistics: &statistics, body)
            }
        }
    }

    /// One subvolume: every regular file under `directory` on the same `st_dev`.
    public func sweep(
        root: UInt64, directory: String, device: UInt32, statistics: inout Statistics,
        _ body: (FileResidency) throws -> Void
    ) throws {
        let top = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard top >= 0 else { throw DuetError.system("open", directory) }
        var status = stat()
        guard fstat(top, &status) == 0 else {
            close(top)
            throw DuetError.system("fstat", directory)
        }
        var seen = Set<UInt64>()
        try walk(
            directoryFD: top, path: directory, subvolumeDevice: status.st_dev, root: root, device: device,
            seen: &seen, statistics: &statistics, body)
    }

    /// Walks one directory (takes ownership of `directoryFD`).
    private func walk(
        directoryFD: Int32, path: String, subvolumeDevice: UInt, root: UInt64, device: UInt32,
        seen: inout Set<UInt64>, statistics: inout Statistics, _ body: (FileResidency) throws -> Void
    ) throws {
        guard let stream = fdopendir(directoryFD) else {
            close(directoryFD)
            statistics.errors += 1
            return
        }
        defer { closedir(stream) }
        var subdirectories: [String] = []
        while let entry = readdir(stream) {
            let name = withUnsafePointer(to: entry.pointee.d_name) {
                $0.withMemoryRebound(to: CChar.self, capacity: 256) { String(cString: $0) }
            }
            if name == "." || name == ".." { continue }
            let type = entry.pointee.d_type
            if type == UInt8(DT_DIR) {
                subdirectories.append(name)
            } else if type == UInt8(DT_REG) || type == UInt8(DT_UNKNOWN) {
                try visitFile(
                    parentFD: directoryFD, name: name, path: path + "/" + name, subvolumeDevice: subvolumeDevice,
                    root: root, device: device, seen: &seen, statistics: &statistics, body)
            }
        }
        for name in subdirectories {
            let fd = openat(directoryFD, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
            guard fd >= 0 else {
                statistics.errors += 1
                continue
            }
            var status = stat()
            // A nested subvolume (or another mount) has another st_dev: it is walked as its own root.
            guard fstat(fd, &status) == 0, status.st_dev == subvolumeDevice else {
                close(fd)
                continue
            }
            try walk(
                directoryFD: fd, path: path + "/" + name, subvolumeDevice: subvolumeDevice, root: root, device: device,
                seen: &seen, statistics: &statistics, body)
        }
    }

    /// `O_NOATIME` (not exported by the Glibc module): the sweep must not change what it looks at.
    static let noAccessTime: Int32 = 0o1000000

    private func visitFile(
        parentFD: Int32, name: String, path: String, subvolumeDevice: UInt, root: UInt64, device: UInt32,
        seen: inout Set<UInt64>, statistics: inout Statistics, _ body: (FileResidency) throws -> Void
    ) throws {
        var fd = openat(parentFD, name, O_RDONLY | O_NONBLOCK | O_NOFOLLOW | O_CLOEXEC | Self.noAccessTime)
        if fd < 0, errno == EPERM { fd = openat(parentFD, name, O_RDONLY | O_NONBLOCK | O_NOFOLLOW | O_CLOEXEC) }
        guard fd >= 0 else {
            if errno != ENOENT && errno != ELOOP { statistics.errors += 1 }
            return
        }
        defer { close(fd) }
        var status = stat()
        guard fstat(fd, &status) == 0, status.st_mode & S_IFMT == S_IFREG, status.st_dev == subvolumeDevice else { return }
        let inode = UInt64(status.st_ino)
        guard seen.insert(inode).inserted else { return }
        statistics.files += 1
        let size = UInt64(status.st_size)
        guard size > 0 else { return }
        statistics.bytesExamined += size
        statistics.syscalls += 1
        let whole = try PageResidency.cachestat(fd, subject: path)
        guard whole.cached > 0 else { return }
        statistics.cachedFiles += 1
        var calls: UInt64 = 0
        let resident: ExtentSet
        if whole.cached >= (size + pageSize - 1) / pageSize {
            resident = ExtentSet([0..<((size + pageSize - 1) / pageSize)])
        } else {
            resident = try PageResidency.residentPages(fd, size: size, method: method, subject: path, calls: &calls)
        }
        var dirty = ExtentSet()
        if whole.dirty + whole.writeback > 0 {
            dirty = try PageResidency.dirtyPages(fd, within: resident, subject: path, calls: &calls)
        }
        statistics.syscalls += calls
        statistics.residentPages += resident.count
        statistics.dirtyPages += dirty.count
        guard !resident.isEmpty else { return }
        try body(
            FileResidency(
                device: device, root: root, inode: inode, resident: resident, dirty: dirty,
                modification: UInt64(status.st_mtim.tv_sec) * 1_000_000_000 + UInt64(status.st_mtim.tv_nsec),
                change: UInt64(status.st_ctim.tv_sec) * 1_000_000_000 + UInt64(status.st_ctim.tv_nsec),
                size: size))
    }
}

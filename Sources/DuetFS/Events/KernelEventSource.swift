import CDuet
import Glibc
import Synchronization
import SystemPackage

/// Page-cache events from the Duet kernel framework (`kernel-patches/linux-6.12`, `/dev/duet`).
///
/// `start` registers a task through `/dev/duet` (scope: a file descriptor on the mount; event
/// mask; model; name) and reads its task fd on a thread of its own: each `read()` returns up to
/// 1024 32-byte `struct duet_item`s `{ino, root, index, gen, state}`, one per page, deduplicated
/// per page by the kernel. `KernelItem.cacheEvents` turns a batch into `CacheEvent`s: one per run
/// of consecutive pages with the same inode, root and state, and per state bit (`ADDED` →
/// `.added`, `DIRTY` → `.dirtied`, `FLUSHED` (dirty bit cleared for writeback) →
/// `.writebackStarted`, `REMOVED` → `.removed`, in that order).
///
/// The kernel never loses an event silently: its `dropped` counter (full per-CPU buffer,
/// `max_pending`, allocation failure, failed copy) is this source's `statistics.lost`.
///
/// The task is the file descriptor: `stop()`, `deinit`, and every failure path of `start` close
/// it, and the kernel deregisters the task on the last close (also when the process dies). While
/// it exists the task holds a reference on the mount (`umount` gives `EBUSY`).
///
/// The kernel reports regular files only: no btree-inode (metadata) pages, no
/// `.writebackFinished` or `.extentWritten` (the creditor's generation check covers rewrites).
/// In the event model an item carries the OR of the events of its page since the last read, so
/// a page added, removed and added again between two reads counts once; the reader reads as
/// soon as the kernel has items, which keeps that window to a few milliseconds.
public final class KernelEventSource: EventSource {
    public static let devicePath = "/dev/duet"

    /// `DUET_PAGE_*` bits.
    public struct Events: OptionSet, Sendable, Hashable {
        public let rawValue: UInt32
        public init(rawValue: UInt32) { self.rawValue = rawValue }
        public static let added = Events(rawValue: UInt32(DUET_PAGE_ADDED))
        public static let removed = Events(rawValue: UInt32(DUET_PAGE_REMOVED))
        public static let dirty = Events(rawValue: UInt32(DUET_PAGE_DIRTY))
        public static let flushed = Events(rawValue: UInt32(DUET_PAGE_FLUSHED))
        public static let all: Events = [.added, .removed, .dirty, .flushed]
    }

    public enum Model: UInt32, Sendable {
        /// An item carries the OR of the events since its page was last read.
        case event = 0
        /// An item carries the net change: added+removed and dirty+flushed cancel.
        case state = 1
    }

    public struct Configuration: Sendable {
        public var events: Events = .all
        public var model: Model = .event
        /// Only the btrfs subvolume of the mount path (`DUET_REG_SUBVOL`), not the whole file system.
        public var subvolumeOnly = false
        /// Report pages cached before registration as `.added` (+ `.dirtied`). Off by default:
        /// the hub scans with cachestat itself, and the eBPF source has no such scan.
        public var scanAtRegistration = false
        /// Bound on pending items in the kernel (0: the kernel's default, 262144).
        public var maxPending: UInt32 = 0
        /// Shown in the task's status (at most 31 bytes).
        public var taskName = "duet"
        /// The reader waits at most this long in `poll()` before it checks for `stop()` and refreshes the counters.
        public var pollIntervalMilliseconds: Int32 = 100

        public init(
            events: Events = .all, model: Model = .event, subvolumeOnly: Bool = false, scanAtRegistration: Bool = false,
            maxPending: UInt32 = 0, taskName: String = "duet", pollIntervalMilliseconds: Int32 = 100
        ) {
            self.events = events
            self.model = model
            self.subvolumeOnly = subvolumeOnly
            self.scanAtRegistration = scanAtRegistration
            self.maxPending = maxPending
            self.taskName = taskName
            self.pollIntervalMilliseconds = pollIntervalMilliseconds
        }
    }

    public let name = "kernel"
    /// The mount (or directory) whose file system, or subvolume, is the task's scope.
    public let mount: String
    /// The superblock device reported in every `CacheEvent.device`.
    public let device: UInt32
    public let configuration: Configuration

    private enum Phase {
        case idle
        case running(Reader, BackgroundThread)
        case stopping(Reader)
        case stopped(delivered: UInt64, status: KernelTaskStatus?, failure: DuetError?)
    }

    private let state = Mutex<Phase>(.idle)

    /// Watches the file system holding `mount` (a btrfs mount point or any path inside it).
    public convenience init(mount: String, configuration: Configuration = Configuration()) throws {
        let device = try MountTable.current().btrfsEntry(containing: mount).kernelDevice
        self.init(mount: mount, device: device, configuration: configuration)
    }

    /// `device`: the superblock device of `mount` (`MountTable.Entry.kernelDevice`), used as `CacheEvent.device`.
    public init(mount: String, device: UInt32, configuration: Configuration = Configuration()) {
        self.mount = mount
        self.device = device
        self.configuration = configuration
    }

    deinit { stop() }

    /// Whether `/dev/duet` exists, i.e. the running kernel has the Duet patches (`CONFIG_DUET`).
    public static var isAvailable: Bool {
        var info = stat()
        return stat(devicePath, &info) == 0 && (info.st_mode & S_IFMT) == S_IFCHR
    }

    /// Nil when this process can register a task here, else what is missing.
    public static func unsupportedReason() -> String? {
        if !isAvailable {
            return
                "\(devicePath) does not exist: the running kernel (\(kernelRelease())) lacks the Duet framework (kernel-patches/linux-6.12, CONFIG_DUET=y)"
        }
        if geteuid() != 0 {
            return "\(devicePath) needs CAP_SYS_ADMIN; running as uid \(geteuid())"
        }
        return nil
    }

    public static var isSupported: Bool { unsupportedReason() == nil }

    private static func kernelRelease() -> String {
        var names = utsname()
        uname(&names)
        return withUnsafeBytes(of: &names.release) { String(decoding: $0.prefix(while: { $0 != 0 }), as: UTF8.self) }
    }

    public func start(deliver: @escaping @Sendable ([CacheEvent]) -> Void) throws {
        try state.withLock { phase in
            guard case .idle = phase else {
                throw DuetError(.unsupported, "the kernel event source for \(mount) was already started; create a new one")
            }
            if let reason = Self.unsupportedReason() {
                throw DuetError(
                    Self.isAvailable ? .permission : .unsupported, "cannot watch \(mount) with the Duet kernel framework: \(reason)")
            }
            let taskFD = try register()
            do {
                let status = try Self.status(of: taskFD, mount: mount)
                guard status.pageSize > 0, UInt64(status.pageSize) % pageSize == 0 else {
                    throw DuetError(.unsupported, "the kernel's Duet page size \(status.pageSize) is not a multiple of \(pageSize)")
                }
                let created = Reader(
                    fd: taskFD, device: device, pagesPerItem: UInt64(status.pageSize) / pageSize,
                    interval: configuration.pollIntervalMilliseconds, mount: mount, deliver: deliver)
                created.status.withLock { $0 = status }
                let thread = try BackgroundThread.start(name: "Duet kernel reader") { created.run() }
                phase = .running(created, thread)
            } catch {
                // The task is the fd: closing it deregisters the task.
                close(taskFD)
                throw error
            }
        }
    }

    /// Stops the reader after it has read what the kernel still holds, reads the final counters and
    /// closes the task fd (the kernel deregisters the task). Safe to call more than once.
    public func stop() {
        let running: (Reader, BackgroundThread)? = state.withLock { phase in
            switch phase {
            case .idle:
                phase = .stopped(delivered: 0, status: nil, failure: nil)
                return nil
            case .running(let reader, let thread):
                phase = .stopping(reader)
                return (reader, thread)
            case .stopping, .stopped:
                return nil
            }
        }
        guard let (reader, thread) = running else { return }
        reader.stopRequested.store(true, ordering: .releasing)
        if !thread.isCurrent { thread.join() }
        state.withLock { phase in
            // The device may already be gone at stop: the reader's last status stands in.
            let final = (try? Self.status(of: reader.fd, mount: mount)) ?? reader.status.withLock { $0 }
            close(reader.fd)
            phase = .stopped(
                delivered: reader.delivered.load(ordering: .acquiring), status: final,
                failure: reader.failure.withLock { $0 })
        }
    }

    public var statistics: EventSourceStatistics {
        state.withLock { phase in
            switch phase {
            case .idle: return EventSourceStatistics()
            case .running(let reader, _), .stopping(let reader):
                return EventSourceStatistics(
                    delivered: reader.delivered.load(ordering: .relaxed),
                    lost: reader.status.withLock { $0?.dropped ?? 0 })
            case .stopped(let delivered, let status, _):
                return EventSourceStatistics(delivered: delivered, lost: status?.dropped ?? 0)
            }
        }
    }

    /// The task's counters: asked from the kernel while running, the final ones after `stop()`.
    public var kernelStatus: KernelTaskStatus? {
        state.withLock { phase in
            switch phase {
            case .idle: return nil
            case .running(let reader, _), .stopping(let reader):
                // Between the reader's refreshes a failed query falls back to its last status.
                return (try? Self.status(of: reader.fd, mount: mount)) ?? reader.status.withLock { $0 }
            case .stopped(_, let status, _): return status
            }
        }
    }

    /// Set when the reader stopped on an error (reading the task fd failed).
    public var failure: DuetError? {
        state.withLock { phase in
            switch phase {
            case .idle: return nil
            case .running(let reader, _), .stopping(let reader): return reader.failure.withLock { $0 }
            case .stopped(_, _, let failure): return failure
            }
        }
    }

    /// Opens the scope and `/dev/duet`, registers, and returns the task fd (non-blocking, close-on-exec).
    /// Neither helper fd outlives the call: the task holds its own reference on the scope.
    private func register() throws -> Int32 {
        let scope = open(mount, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard scope >= 0 else { throw DuetError.system("open", mount) }
        defer { close(scope) }
        let device = open(Self.devicePath, O_RDWR | O_CLOEXEC)
        guard device >= 0 else { throw DuetError.system("open", Self.devicePath) }
        defer { close(device) }
        var request = duet_register()
        request.scope_fd = scope
        request.evtmask = configuration.events.rawValue
        request.model = configuration.model.rawValue
        request.keyspace = UInt32(DUET_KEY_NONE)
        request.flags =
            UInt32(DUET_REG_NONBLOCK)
            | (configuration.subvolumeOnly ? UInt32(DUET_REG_SUBVOL) : 0)
            | (configuration.scanAtRegistration ? 0 : UInt32(DUET_REG_NO_SCAN))
        request.max_pending = configuration.maxPending
        withUnsafeMutableBytes(of: &request.name) { name in
            for (i, byte) in configuration.taskName.utf8.prefix(Int(DUET_NAME_LEN) - 1).enumerated() { name[i] = byte }
        }
        let taskFD = duet_kernel_register(device, &request)
        guard taskFD >= 0 else {
            let code = errno
            if code == EOPNOTSUPP, configuration.subvolumeOnly {
                throw DuetError(.unsupported, "\(mount) is not on btrfs: a subvolume scope needs btrfs")
            }
            if code == EMFILE {
                throw DuetError(.system(errno: code), "cannot register a Duet task on \(mount): the kernel's 64 tasks are in use")
            }
            throw DuetError.system("DUET_IOC_REGISTER", mount, errno: code)
        }
        return taskFD
    }

    static func status(of taskFD: Int32, mount: String) throws -> KernelTaskStatus {
        var raw = duet_status()
        guard duet_ioctl(taskFD, duet_kernel_ioc_status(), &raw) == 0 else {
            throw DuetError.system("DUET_IOC_STATUS", "the Duet task of \(mount)")
        }
        return KernelTaskStatus(raw)
    }
}

/// The counters of a Duet kernel task (`struct duet_status`).
public struct KernelTaskStatus: Sendable, Equatable, Codable {
    public var name: String
    public var pageSize: UInt32
    public var maxPending: UInt32
    public var scopeRoot: UInt64
    /// Items waiting to be read.
    public var pending: UInt64
    /// Page events accepted by the probes.
    public var events: UInt64
    /// Pages reported by the registration scan.
    public var scanned: UInt64
    /// Items returned by `read()`.
    public var read: UInt64
    public var filtered: UInt64
    public var cancelled: UInt64
    /// Sum of the `dropped*` counters.
    public var dropped: UInt64
    public var droppedRing: UInt64
    public var droppedLimit: UInt64
    public var droppedNoMemory: UInt64
    public var droppedFault: UInt64
    public var doneRanges: UInt64

    init(_ raw: duet_status) {
        var raw = raw
        name = withUnsafeBytes(of: &raw.name) { String(decoding: $0.prefix(while: { $0 != 0 }), as: UTF8.self) }
        pageSize = raw.page_size
        maxPending = raw.max_pending
        scopeRoot = raw.scope_root
        pending = raw.pending
        events = raw.events
        scanned = raw.scanned
        read = raw.read
        filtered = raw.filtered
        cancelled = raw.cancelled
        dropped = raw.dropped
        droppedRing = raw.dropped_ring
        droppedLimit = raw.dropped_limit
        droppedNoMemory = raw.dropped_nomem
        droppedFault = raw.dropped_fault
        doneRanges = raw.done_ranges
    }
}

/// One `struct duet_item` as `read()` returns it from a task fd.
public struct KernelItem: Hashable, Sendable {
    public static let size = 32

    public var inode: UInt64
    public var root: UInt64
    /// In pages of the task's `page_size`.
    public var index: UInt64
    public var generation: UInt32
    /// `DUET_PAGE_*` bits.
    public var state: KernelEventSource.Events

    public init(inode: UInt64, root: UInt64, index: UInt64, generation: UInt32, state: KernelEventSource.Events) {
        self.inode = inode
        self.root = root
        self.index = index
        self.generation = generation
        self.state = state
    }

    /// Decodes a batch as read from the task fd (native byte order, which is the kernel's):
    /// a whole number of 32-byte items.
    public static func parse(_ bytes: UnsafeRawBufferPointer) throws -> [KernelItem] {
        guard bytes.count % size == 0 else {
            throw DuetError.malformed("a Duet item batch of \(bytes.count) bytes is not a whole number of \(size)-byte items")
        }
        var items: [KernelItem] = []
        items.reserveCapacity(bytes.count / size)
        var offset = 0
        while offset < bytes.count {
            items.append(
                KernelItem(
                    inode: bytes.loadUnaligned(fromByteOffset: offset, as: UInt64.self),
                    root: bytes.loadUnaligned(fromByteOffset: offset + 8, as: UInt64.self),
                    index: bytes.loadUnaligned(fromByteOffset: offset + 16, as: UInt64.self),
                    generation: bytes.loadUnaligned(fromByteOffset: offset + 24, as: UInt32.self),
                    state: KernelEventSource.Events(rawValue: bytes.loadUnaligned(fromByteOffset: offset + 28, as: UInt32.self))))
            offset += size
        }
        return items
    }

    public static func parse(_ bytes: [UInt8]) throws -> [KernelItem] {
        try bytes.withUnsafeBytes { try parse($0) }
    }

    /// The order in which the kinds of one item are reported: a page's life (in, dirtied, cleaned for writeback, out).
    static let kindOrder: [(KernelEventSource.Events, CacheEvent.Kind)] =
        [(.added, .added), (.dirty, .dirtied), (.flushed, .writebackStarted), (.removed, .removed)]

    /// `CacheEvent`s for a batch of items: runs of consecutive pages of one file with the same
    /// state become one event per kind (`firstPage`, `pageCount`); `pagesPerItem` converts the
    /// kernel's page size to `pageSize` pages. Items with no known state bit give nothing.
    public static func cacheEvents(_ items: [KernelItem], device: UInt32, pagesPerItem: UInt64 = 1) -> [CacheEvent] {
        var events: [CacheEvent] = []
        events.reserveCapacity(items.count)
        func emit(_ first: KernelItem, _ count: UInt64) {
            for (bit, kind) in kindOrder where first.state.contains(bit) {
                events.append(
                    CacheEvent(
                        kind: kind, device: device, root: first.root, inode: first.inode,
                        firstPage: first.index &* pagesPerItem, pageCount: count &* pagesPerItem))
            }
        }
        var index = 0
        while index < items.count {
            let first = items[index]
            var count: UInt64 = 1
            while index + Int(count) < items.count {
                let next = items[index + Int(count)]
                guard next.inode == first.inode, next.root == first.root, next.state == first.state,
                    next.index > first.index, next.index - first.index == count
                else { break }
                count += 1
            }
            emit(first, count)
            index += Int(count)
        }
        return events
    }

    /// `parse` then `cacheEvents`.
    public static func cacheEvents(batch bytes: UnsafeRawBufferPointer, device: UInt32, pagesPerItem: UInt64 = 1) throws -> [CacheEvent] {
        cacheEvents(try parse(bytes), device: device, pagesPerItem: pagesPerItem)
    }
}

extension KernelEventSource {
    /// The reader thread's state; it uses the task fd until `stop()` has joined it.
    fileprivate final class Reader: @unchecked Sendable {
        // @unchecked: `fd` is immutable; other threads only use it for DUET_IOC_STATUS, which is thread-safe.
        let fd: Int32
        let device: UInt32
        let pagesPerItem: UInt64
        let interval: Int32
        let mount: String
        let deliver: @Sendable ([CacheEvent]) -> Void
        let stopRequested = Atomic<Bool>(false)
        let delivered = Atomic<UInt64>(0)
        let status = Mutex<KernelTaskStatus?>(nil)
        let failure = Mutex<DuetError?>(nil)

        init(
            fd: Int32, device: UInt32, pagesPerItem: UInt64, interval: Int32, mount: String,
            deliver: @escaping @Sendable ([CacheEvent]) -> Void
        ) {
            self.fd = fd
            self.device = device
            self.pagesPerItem = pagesPerItem
            self.interval = interval
            self.mount = mount
            self.deliver = deliver
        }

        /// The kernel returns at most 1024 items per read.
        static let bufferBytes = 1024 * KernelItem.size

        func run() {
            let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: Self.bufferBytes, alignment: 8)
            defer { buffer.deallocate() }
            var lastStatus = SystemClock.monotonicNanoseconds()
            while !stopRequested.load(ordering: .acquiring) {
                var descriptor = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
                let ready = poll(&descriptor, 1, interval)
                if ready < 0, errno != EINTR {
                    fail("poll")
                    return
                }
                guard drain(buffer) else { return }
                let now = SystemClock.monotonicNanoseconds()
                if now - lastStatus >= UInt64(interval) * 1_000_000 {
                    refreshStatus()
                    lastStatus = now
                }
            }
            // What the kernel still holds (read() also drains the per-CPU buffers).
            _ = drain(buffer)
            refreshStatus()
        }

        /// Reads until the kernel has nothing more; false after a failure.
        private func drain(_ buffer: UnsafeMutableRawBufferPointer) -> Bool {
            while true {
                let n: Int
                do {
                    n = try FileDescriptor(rawValue: fd).readSome(into: buffer)
                } catch .resourceTemporarilyUnavailable {
                    return true
                } catch {
                    fail("read", error)
                    return false
                }
                if n == 0 { return true }
                do {
                    let events = try KernelItem.cacheEvents(
                        batch: UnsafeRawBufferPointer(rebasing: buffer[0..<n]),
                        device: device, pagesPerItem: pagesPerItem)
                    delivered.add(UInt64(events.count), ordering: .relaxed)
                    if !events.isEmpty { deliver(events) }
                } catch {
                    failure.withLock { $0 = error as? DuetError ?? DuetError(.malformed, "\(error)") }
                    return false
                }
                if n < buffer.count { return true }
            }
        }

        private func refreshStatus() {
            // The last good status is kept; the read loop reports a device that fails for good.
            if let current = try? KernelEventSource.status(of: fd, mount: mount) {
                status.withLock { $0 = current }
            }
        }

        private func fail(_ call: String, _ code: Errno = Errno(rawValue: errno)) {
            let error = DuetError.system(call, "the Duet task of \(mount)", code)
            failure.withLock { $0 = error }
        }
    }
}

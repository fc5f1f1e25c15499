import CDuetBPF
import Glibc
import Synchronization

/// Page-cache events from the eBPF probes in `Sources/CDuetBPF/bpf/duet.bpf.c`: BTF
/// tracepoints on page-cache insertion and removal, dirtying, btrfs writeback start
/// and completion, each tagged with the btrfs root id read from the inode.
///
/// The kernel filters to the watched superblocks, so other file systems cost one
/// comparison per event. Records travel through a BPF ring buffer that wakes the
/// reader only past `Configuration.wakeupBytes`; the reader thread also drains it
/// every `pollIntervalMilliseconds`, so a trickle of events arrives within that time.
///
/// The programs hang on BPF links owned by this process's file descriptors, nothing
/// pinned: when the process exits or is killed they are detached by the kernel.
/// Needs root (CONFIG_BPF_UNPRIV_DEFAULT_OFF) and kernel BTF; see `unsupportedReason()`.
public final class BPFEventSource: EventSource {
    public struct Configuration: Sendable {
        /// Ring buffer size (rounded up to a power of two). 16 MiB holds about 300k records (48 bytes + 8 of header each).
        public var ringBufferBytes: Int = 16 << 20
        /// The probes force a wake-up only when more than this many bytes are waiting.
        public var wakeupBytes: Int = 1 << 20
        /// The longest a record waits in the ring buffer while the threshold is not reached.
        public var pollIntervalMilliseconds: Int32 = 100

        public init(ringBufferBytes: Int = 16 << 20, wakeupBytes: Int = 1 << 20, pollIntervalMilliseconds: Int32 = 100) {
            self.ringBufferBytes = ringBufferBytes
            self.wakeupBytes = wakeupBytes
            self.pollIntervalMilliseconds = pollIntervalMilliseconds
        }
    }

    public let name = "ebpf"
    /// The superblock devices (`CacheEvent.device`) being watched.
    public let devices: [UInt32]
    /// What was asked for, for messages.
    public let watchedPaths: [String]
    public let configuration: Configuration

    private enum Phase {
        case idle
        case running(Reader, pthread_t)
        /// `stop()` is joining the reader; the handle is still valid.
        case stopping(Reader)
        /// The handle is destroyed; the counters are final.
        case stopped(delivered: UInt64, lost: UInt64, failure: DuetError?, readerCPU: UInt64)
    }

    private struct State {
        var phase: Phase = .idle
    }

    private let state = Mutex(State())

    /// Watches the btrfs file systems that hold `mounts` (any path inside each will do);
    /// resolves each to its superblock device through `/proc/self/mountinfo`.
    public convenience init(mounts: [String], configuration: Configuration = Configuration()) throws {
        let table = try MountTable.current()
        var devices: [UInt32] = []
        for path in mounts {
            let device = try table.btrfsEntry(containing: path).kernelDevice
            if !devices.contains(device) { devices.append(device) }
        }
        self.init(devices: devices, paths: mounts, configuration: configuration)
    }

    /// Watches superblock devices directly (`major << 20 | minor`, see `MountTable.kernelDevice`).
    public init(devices: [UInt32], paths: [String]? = nil, configuration: Configuration = Configuration()) {
        self.devices = devices
        self.watchedPaths = paths ?? devices.map { "device \($0 >> 20):\($0 & 0xFFFFF)" }
        self.configuration = configuration
    }

    deinit {
        stop()
    }

    /// Whether this process can load the probes here: nil when it can, else what is missing.
    public static func unsupportedReason() -> String? {
        if geteuid() != 0 {
            return
                "eBPF probes need root (loading tp_btf programs needs CAP_BPF and CAP_PERFMON; unprivileged BPF is off); running as uid \(geteuid())"
        }
        let btf = "/sys/kernel/btf/vmlinux"
        if access(btf, R_OK) != 0 {
            return "\(btf) is missing or unreadable: the kernel needs CONFIG_DEBUG_INFO_BTF for tp_btf programs and CO-RE"
        }
        return nil
    }

    /// True when `unsupportedReason()` finds nothing missing. Loading can still fail (verifier, old kernel):
    /// `start` then throws with the reason.
    public static var isSupported: Bool { unsupportedReason() == nil }

    /// Loads and attaches the probes and starts the reader thread, which calls `deliver`
    /// with each batch (up to 4096 events) until `stop()`.
    public func start(deliver: @escaping @Sendable ([CacheEvent]) -> Void) throws {
        try state.withLock { state in
            guard case .idle = state.phase else {
                throw DuetError(
                    .unsupported, "the eBPF event source for \(watchedPaths.joined(separator: ", ")) was already started; create a new one")
            }
            if let reason = BPFEventSource.unsupportedReason() {
                throw DuetError(
                    geteuid() == 0 ? .unsupported : .permission, "cannot watch \(watchedPaths.joined(separator: ", ")) with eBPF: \(reason)"
                )
            }
            guard !devices.isEmpty, devices.count <= 64 else {
                throw DuetError(.unsupported, "the eBPF source watches 1 to 64 file systems, not \(devices.count)")
            }
            let handle = try open()
            let reader = Reader(handle: handle, interval: configuration.pollIntervalMilliseconds, deliver: deliver)
            do {
                let thread = try reader.spawn()
                state.phase = .running(reader, thread)
            } catch {
                duet_bpf_destroy(handle)
                throw error
            }
        }
    }

    /// Stops the reader (after draining what is in the ring buffer), detaches and frees
    /// the probes. Safe to call more than once and from any thread except the reader's.
    public func stop() {
        let running: (Reader, pthread_t)? = state.withLock { state in
            switch state.phase {
            case .idle:
                state.phase = .stopped(delivered: 0, lost: 0, failure: nil, readerCPU: 0)
                return nil
            case .running(let reader, let thread):
                state.phase = .stopping(reader)
                return (reader, thread)
            case .stopping, .stopped:
                return nil
            }
        }
        guard let (reader, thread) = running else { return }
        reader.stopRequested.store(true, ordering: .releasing)
        pthread_join(thread, nil)
        state.withLock { state in
            // Destroyed under the lock, so `statistics` never reads a freed handle.
            let final = Phase.stopped(
                delivered: reader.delivered.load(ordering: .acquiring),
                lost: duet_bpf_lost(reader.handle),
                failure: reader.failure.withLock { $0 },
                readerCPU: reader.cpuNanoseconds.load(ordering: .relaxed))
            duet_bpf_destroy(reader.handle)
            state.phase = final
        }
    }

    public var statistics: EventSourceStatistics {
        state.withLock { state in
            switch state.phase {
            case .idle:
                return EventSourceStatistics()
            case .running(let reader, _), .stopping(let reader):
                return EventSourceStatistics(delivered: reader.delivered.load(ordering: .relaxed), lost: duet_bpf_lost(reader.handle))
            case .stopped(let delivered, let lost, _, _):
                return EventSourceStatistics(delivered: delivered, lost: lost)
            }
        }
    }

    /// CPU time the reader thread has used so far (polling, converting, and running `deliver`).
    public var readerCPUNanoseconds: UInt64 {
        state.withLock { state in
            switch state.phase {
            case .running(let reader, _), .stopping(let reader): return reader.cpuNanoseconds.load(ordering: .relaxed)
            case .stopped(_, _, _, let cpu): return cpu
            case .idle: return 0
            }
        }
    }

    /// Set when the reader thread stopped on an error (the ring buffer could not be read).
    public var failure: DuetError? {
        state.withLock { state in
            switch state.phase {
            case .running(let reader, _), .stopping(let reader): return reader.failure.withLock { $0 }
            case .stopped(_, _, let failure, _): return failure
            case .idle: return nil
            }
        }
    }

    private func open() throws -> OpaquePointer {
        var handle: OpaquePointer?
        var message = [CChar](repeating: 0, count: 8192)
        let rc = devices.withUnsafeBufferPointer { devices in
            var options = duet_bpf_options(
                devices: devices.baseAddress, device_count: devices.count,
                ring_bytes: configuration.ringBufferBytes, wakeup_bytes: configuration.wakeupBytes)
            return duet_bpf_open(&options, &handle, &message, message.count)
        }
        guard rc == 0, let handle else {
            let detail = String(decoding: message.prefix(while: { $0 != 0 }).map { UInt8(bitPattern: $0) }, as: UTF8.self)
            let code = -rc
            // EACCES is the verifier's answer, not a privilege problem; EPERM is.
            let kind: DuetError.Kind = code == EPERM ? .permission : .system(errno: code)
            throw DuetError(kind, "cannot watch \(watchedPaths.joined(separator: ", ")) with eBPF: \(detail)")
        }
        return handle
    }
}

extension BPFEventSource {
    /// The reader thread's state. It owns the C handle until `stop()` joins the thread.
    fileprivate final class Reader: @unchecked Sendable {
        // @unchecked: `handle` is used by the reader thread, and by other threads only for
        // duet_bpf_lost(), which reads a map through its fd and is thread-safe.
        let handle: OpaquePointer
        let interval: Int32
        let deliver: @Sendable ([CacheEvent]) -> Void
        let stopRequested = Atomic<Bool>(false)
        let delivered = Atomic<UInt64>(0)
        /// CPU time the reader thread used (CLOCK_THREAD_CPUTIME_ID), updated after every poll.
        let cpuNanoseconds = Atomic<UInt64>(0)
        let failure = Mutex<DuetError?>(nil)

        init(handle: OpaquePointer, interval: Int32, deliver: @escaping @Sendable ([CacheEvent]) -> Void) {
            self.handle = handle
            self.interval = interval
            self.deliver = deliver
        }

        func spawn() throws -> pthread_t {
            var thread = pthread_t()
            let context = Unmanaged.passRetained(self).toOpaque()
            let rc = pthread_create(
                &thread, nil,
                { context in
                    let reader = Unmanaged<Reader>.fromOpaque(context!).takeRetainedValue()
                    reader.run()
                    return nil
                }, context)
            guard rc == 0 else {
                Unmanaged<Reader>.fromOpaque(context).release()
                throw DuetError(.system(errno: rc), "cannot start the eBPF reader thread: \(String(cString: strerror(rc)))")
            }
            return thread
        }

        private func run() {
            let context = Unmanaged.passUnretained(self).toOpaque()
            while !stopRequested.load(ordering: .acquiring) {
                let n = duet_bpf_poll(handle, interval, Reader.onBatch, context)
                recordCPUTime()
                if n < 0 {
                    failure.withLock {
                        $0 = DuetError(.system(errno: -n), "reading the eBPF ring buffer failed: \(String(cString: strerror(-n)))")
                    }
                    return
                }
            }
            // Detach, then drain what the probes submitted and the runs still merged per CPU.
            _ = duet_bpf_finish(handle, Reader.onBatch, context)
            recordCPUTime()
        }

        private func recordCPUTime() {
            var now = timespec()
            clock_gettime(CLOCK_THREAD_CPUTIME_ID, &now)
            cpuNanoseconds.store(UInt64(now.tv_sec) * 1_000_000_000 + UInt64(now.tv_nsec), ordering: .relaxed)
        }

        private static let onBatch: duet_bpf_batch_fn = { context, records, count in
            guard let context, let records, count > 0 else { return }
            let reader = Unmanaged<Reader>.fromOpaque(context).takeUnretainedValue()
            var events: [CacheEvent] = []
            events.reserveCapacity(count)
            for record in UnsafeBufferPointer(start: records, count: count) {
                guard let kind = CacheEvent.Kind(rawValue: record.kind) else { continue }
                events.append(
                    CacheEvent(
                        kind: kind, device: record.dev, root: record.root, inode: record.ino,
                        firstPage: record.index, pageCount: record.count, logical: record.logical))
            }
            reader.delivered.add(UInt64(events.count), ordering: .relaxed)
            reader.deliver(events)
        }
    }
}

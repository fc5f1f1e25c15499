import DuetFS

/// The event source `duet watch --source` names: one source, or `auto` for the best that starts.
public enum WatchSourceChoice: String, CaseIterable, Sendable {
    /// The Duet kernel framework when `/dev/duet` exists, else eBPF when the kernel allows it,
    /// else cachestat sweeps.
    case auto
    /// The Duet kernel framework (`/dev/duet`, kernel-patches/).
    case kernel
    /// eBPF probes on the stock tracepoints.
    case bpf
    /// Polling residency sweeps: coarse, for kernels without BTF.
    case cachestat

    /// Why this choice cannot run on this machine at all, before anything starts; nil when it can
    /// be tried. Only an explicit `kernel` is refused up front (no `/dev/duet`): the others are
    /// found out by starting them.
    public var unavailableReason: String? {
        guard self == .kernel, !KernelEventSource.isAvailable else { return nil }
        return KernelEventSource.unsupportedReason() ?? "\(KernelEventSource.devicePath) is missing"
    }

    /// The sources to try, in order: this one alone, or for `auto` kernel, then bpf, then cachestat,
    /// leaving out those this machine does not support (cachestat is always last and always tried).
    public func candidates(kernelSupported: Bool, bpfSupported: Bool) -> [WatchSourceChoice] {
        guard self == .auto else { return [self] }
        return (kernelSupported ? [.kernel] : []) + (bpfSupported ? [.bpf] : []) + [.cachestat]
    }

    /// `candidates` for this machine.
    public var candidates: [WatchSourceChoice] {
        candidates(kernelSupported: KernelEventSource.isSupported, bpfSupported: BPFEventSource.isSupported)
    }

    /// Creates (does not start) the source for one mount; `auto` stands for its last resort, cachestat.
    public func makeSource(mount: String, device: UInt32) throws -> any EventSource {
        switch self {
        case .kernel:
            return KernelEventSource(mount: mount, device: device)
        case .bpf:
            return try BPFEventSource(mounts: [mount])
        case .cachestat, .auto:
            return CachestatPollingSource(scanner: try CachestatScanner(mounts: [mount]), scope: .fileSystem(device: device))
        }
    }
}

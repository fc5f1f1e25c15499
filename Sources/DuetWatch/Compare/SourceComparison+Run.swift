import DuetFS
import Foundation

extension SourceComparison {
    /// Runs the Duet kernel source (`/dev/duet`) and the eBPF source side by side on the
    /// workload under `mount` (`CompareWorkload`) for `rounds` rounds and compares their counts
    /// (scripts/kernel/vm-test runs it in the guest). Counts are pages of the workload's files
    /// (other inodes, e.g. the btree inode that only the eBPF source reports, are counted apart).
    /// Between rounds it waits until the kernel task has nothing pending, so that the event model
    /// never folds a page's next addition into an item not yet read.
    public static func run(mount: String, rounds: Int, tolerance: Double) throws -> SourceComparison {
        if let reason = KernelEventSource.unsupportedReason() { throw DuetError(.unsupported, reason) }
        if let reason = BPFEventSource.unsupportedReason() { throw DuetError(.unsupported, reason) }
        let workload = try CompareWorkload(under: mount)
        guard !workload.files.isEmpty else { throw DuetError(.unsupported, "no regular files under \(mount) to read") }
        let expected = UInt64(rounds) * workload.pages

        sync()
        try workload.evict()

        let kernelTally = SourceTally(keys: workload.keys, inodes: workload.inodes)
        let ebpfTally = SourceTally(keys: workload.keys, inodes: workload.inodes)
        let kernel = try KernelEventSource(mount: mount, configuration: .init(taskName: "compare-sources"))
        let ebpf = try BPFEventSource(mounts: [mount])
        defer {
            kernel.stop()
            ebpf.stop()
        }
        try ebpf.start(deliver: { ebpfTally.ingest($0) })
        try kernel.start(deliver: { kernelTally.ingest($0) })
        Thread.sleep(forTimeInterval: 0.2)

        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 20, alignment: 4096)
        defer { buffer.deallocate() }
        for _ in 0..<rounds {
            try workload.readAndEvict(through: buffer)
            try waitUntilRead(kernel)
        }
        Thread.sleep(forTimeInterval: 0.3)  // the eBPF reader drains every 100 ms; stop() drains the rest
        kernel.stop()
        ebpf.stop()
        if let failure = kernel.failure { throw failure }
        if let failure = ebpf.failure { throw failure }

        var kernelCounts = kernelTally.current
        var ebpfCounts = ebpfTally.current
        kernelCounts.lost = kernel.statistics.lost
        ebpfCounts.lost = ebpf.statistics.lost
        return SourceComparison(
            rounds: rounds, files: workload.files.count, expectedPages: expected, kernel: kernelCounts, ebpf: ebpfCounts,
            kernelStatus: kernel.kernelStatus, tolerance: tolerance)
    }

    /// Waits until the kernel's per-CPU buffers are drained (10 ms work) and the reader has read every item.
    static func waitUntilRead(_ source: KernelEventSource) throws {
        Thread.sleep(forTimeInterval: 0.05)
        for _ in 0..<500 {
            if let status = source.kernelStatus, status.pending == 0 {
                Thread.sleep(forTimeInterval: 0.02)
                if source.kernelStatus?.pending == 0 { return }
            }
            Thread.sleep(forTimeInterval: 0.01)
        }
        throw DuetError(.unsupported, "the kernel task still has items pending after 5 s: is the reader stuck?")
    }
}

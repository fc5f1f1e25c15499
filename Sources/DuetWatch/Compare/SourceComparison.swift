import DuetFS
import Foundation

/// The verdict of `duet debug compare-sources` (its `--json` result): both sources' counts
/// over the same workload, how far apart they are, and every reason they do not agree.
public struct SourceComparison: Codable, Sendable {
    public var rounds: Int
    public var files: Int
    public var expectedPages: UInt64
    public var kernel: SourceCounts
    public var ebpf: SourceCounts
    public var kernelStatus: KernelTaskStatus?
    public var addedDifferencePercent: Double
    public var removedDifferencePercent: Double
    public var agree: Bool
    public var problems: [String]

    /// Compares the counts: `expectedPages` is what the workload read, `tolerance` the largest
    /// accepted difference in percent of the larger count.
    public init(
        rounds: Int, files: Int, expectedPages: UInt64, kernel: SourceCounts, ebpf: SourceCounts,
        kernelStatus: KernelTaskStatus?, tolerance: Double
    ) {
        let addedDifference = Self.difference(kernel.added, ebpf.added)
        let removedDifference = Self.difference(kernel.removed, ebpf.removed)
        var problems: [String] = []
        if kernel.added == 0 || ebpf.added == 0 || kernel.removed == 0 || ebpf.removed == 0 {
            problems.append("a source counted no additions or no removals: the workload proved nothing")
        }
        // Each round reads every page of every file after evicting it: both sources must see (nearly) all of them,
        // so that two sources missing the same events cannot agree.
        for (name, counts) in [("kernel", kernel), ("eBPF", ebpf)] where Self.difference(counts.added, expectedPages) > tolerance {
            problems.append("the \(name) source counted \(counts.added) added pages of the \(expectedPages) the workload read")
        }
        if addedDifference > tolerance { problems.append(String(format: "added pages differ by %.3f%%", addedDifference)) }
        if removedDifference > tolerance { problems.append(String(format: "removed pages differ by %.3f%%", removedDifference)) }
        if kernel.files != ebpf.files {
            let onlyKernel = kernel.files.subtracting(ebpf.files).sorted()
            let onlyEBPF = ebpf.files.subtracting(kernel.files).sorted()
            problems.append("the sources saw different (root:inode) files: only kernel \(onlyKernel), only eBPF \(onlyEBPF)")
        }
        if let unexpected = kernel.files.union(ebpf.files).first(where: { $0.hasPrefix("unexpected") }) {
            problems.append("events with a root id that does not hold the file: \(unexpected)")
        }
        self.rounds = rounds
        self.files = files
        self.expectedPages = expectedPages
        self.kernel = kernel
        self.ebpf = ebpf
        self.kernelStatus = kernelStatus
        addedDifferencePercent = addedDifference
        removedDifferencePercent = removedDifference
        agree = problems.isEmpty
        self.problems = problems
    }

    /// `a` and `b` apart, in percent of the larger; 0 when both are 0.
    static func difference(_ a: UInt64, _ b: UInt64) -> Double {
        let larger = max(a, b)
        return larger == 0 ? 0 : Double(a > b ? a - b : b - a) * 100 / Double(larger)
    }
}

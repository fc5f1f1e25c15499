import DuetFS
import Testing

@testable import DuetWatch

/// `duet debug compare-sources`: what counts as the workload's pages, and when two sources agree.
@Suite struct SourceComparisonTests {
    static func counts(added: UInt64, removed: UInt64, files: Set<String> = ["5:257"]) -> SourceCounts {
        var counts = SourceCounts()
        counts.added = added
        counts.removed = removed
        counts.files = files
        return counts
    }

    static func compare(_ kernel: SourceCounts, _ ebpf: SourceCounts, expected: UInt64 = 1000, tolerance: Double = 1) -> SourceComparison {
        SourceComparison(rounds: 3, files: 1, expectedPages: expected, kernel: kernel, ebpf: ebpf, kernelStatus: nil, tolerance: tolerance)
    }

    @Test("pages of workload files count by kind; other inodes and the btree inode apart; a wrong root is flagged")
    func tally() {
        let tally = SourceTally(keys: ["5:257"], inodes: [257])
        tally.ingest([
            CacheEvent(kind: .added, device: 1, root: 5, inode: 257, firstPage: 0, pageCount: 4),
            CacheEvent(kind: .removed, device: 1, root: 5, inode: 257, firstPage: 0, pageCount: 2),
            CacheEvent(kind: .dirtied, device: 1, root: 5, inode: 257, firstPage: 0, pageCount: 1),
            CacheEvent(kind: .added, device: 1, root: 5, inode: 300, firstPage: 0, pageCount: 8),
            CacheEvent(kind: .added, device: 1, root: 1, inode: CacheEvent.btreeInode, firstPage: 0, pageCount: 16)
        ])
        tally.ingest([CacheEvent(kind: .added, device: 1, root: 256, inode: 257, firstPage: 0, pageCount: 1)])
        let counts = tally.current
        #expect(counts.events == 6)
        #expect(counts.added == 5 && counts.removed == 2)
        #expect(counts.otherPages == 24)
        #expect(counts.files == ["5:257", "unexpected 256:257"])
    }

    @Test("counts within the tolerance of each other and of what was read agree")
    func agreement() {
        let report = Self.compare(Self.counts(added: 1000, removed: 1000), Self.counts(added: 995, removed: 1000))
        #expect(report.agree && report.problems.isEmpty)
        #expect(report.addedDifferencePercent == 0.5 && report.removedDifferencePercent == 0)
    }

    @Test("sources that agree with each other but both missed pages of the workload do not agree")
    func bothShort() {
        let report = Self.compare(Self.counts(added: 900, removed: 900), Self.counts(added: 900, removed: 900))
        #expect(!report.agree)
        #expect(
            report.problems == [
                "the kernel source counted 900 added pages of the 1000 the workload read",
                "the eBPF source counted 900 added pages of the 1000 the workload read"
            ])
    }

    @Test("a source with nothing, differing counts, and different files are each a problem")
    func problems() {
        let report = Self.compare(Self.counts(added: 1000, removed: 0), Self.counts(added: 1000, removed: 500, files: ["5:257", "5:258"]))
        #expect(
            report.problems == [
                "a source counted no additions or no removals: the workload proved nothing",
                "removed pages differ by 100.000%",
                #"the sources saw different (root:inode) files: only kernel [], only eBPF ["5:258"]"#
            ])
        let wrongRoot = Self.compare(
            Self.counts(added: 1000, removed: 1000, files: ["unexpected 256:257"]),
            Self.counts(added: 1000, removed: 1000, files: ["unexpected 256:257"]))
        #expect(wrongRoot.problems == ["events with a root id that does not hold the file: unexpected 256:257"])
    }
}

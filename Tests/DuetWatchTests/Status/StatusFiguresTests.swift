import DuetFS
import DuetWatch
import Foundation
import Testing

/// The figures `duet status` computes: cached bytes per subvolume and ledger coverage by age.
struct StatusFiguresTests {
    @Test("cached pages become bytes per subvolume, by id, with the top level and unknown ones named")
    func cachedPerSubvolume() {
        let list = CachedSubvolume.list(pages: [257: 3, Subvolumes.topLevelID: 2, 300: 1], names: [257: "home"])
        #expect(
            list == [
                CachedSubvolume(id: Subvolumes.topLevelID, path: "<top level>", cachedBytes: 2 * pageSize),
                CachedSubvolume(id: 257, path: "home", cachedBytes: 3 * pageSize),
                CachedSubvolume(id: 300, path: "?", cachedBytes: pageSize)
            ])
        #expect(CachedSubvolume.list(pages: [:], names: [:]).isEmpty)
    }

    @Test("each age band holds the bytes verified within it, the last one everything older")
    func coverageBands() {
        let now: UInt64 = 100 * 86400
        // Bytes verified at: 10 minutes, 2 hours, 3 days, 10 days and 60 days ago.
        let credits: [(time: UInt64, bytes: UInt64)] = [
            (now - 600, 1), (now - 7200, 10), (now - 3 * 86400, 100), (now - 10 * 86400, 1000), (now - 60 * 86400, 10000)
        ]
        let coverage = LedgerCoverage.byAge(now: now) { since in credits.filter { $0.time >= since }.reduce(0) { $0 + $1.bytes } }
        #expect(coverage.map(\.age) == ["within 1 hour", "within 1 day", "within 7 days", "within 30 days", "older"])
        #expect(coverage.map(\.verifiedBytes) == [1, 10, 100, 1000, 10000])
        #expect(coverage.map(\.minAgeSeconds) == [0, 3600, 86400, 7 * 86400, 30 * 86400])
        #expect(coverage.map(\.maxAgeSeconds) == [3600, 86400, 7 * 86400, 30 * 86400, nil])
    }

    @Test("a clock younger than a band counts everything since the epoch in it")
    func coverageEarlyClock() {
        let coverage = LedgerCoverage.byAge(now: 1000) { _ in 5 }
        #expect(coverage.map(\.verifiedBytes) == [5, 0, 0, 0, 0])
    }
}

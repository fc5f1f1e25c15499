import Testing

@testable import DuetScrub

@Suite struct ConfirmationTests {
    struct DeviceFailed: Error, CustomStringConvertible {
        var description: String { "pread: Input/output error" }
    }

    @Test("a failed re-read is a read error of that range, never unconfirmed")
    func unreadableIsReadError() throws {
        let (finding, counters) = Confirmation.unreadable(DeviceFailed())
            .verdict(firstSeen: .dataChecksum, "data checksum mismatch", sectors: 1)
        let reported = try #require(finding)
        #expect(reported.kind == .read)
        #expect(reported.detail.contains("data checksum mismatch"))
        #expect(reported.detail.contains("Input/output error"))
        #expect(counters.readErrors == 1)
        #expect(counters.unconfirmed == 0)
        #expect(counters.errors == 1)
    }

    @Test("a tree block whose re-read fails is one read error")
    func unreadableTreeBlock() throws {
        let (finding, counters) = Confirmation.unreadable(DeviceFailed())
            .verdict(firstSeen: .treeChecksum, "checksum mismatch", sectors: 4)
        #expect(try #require(finding).kind == .read)
        #expect(counters.readErrors == 1)
        #expect(counters.treeErrors == 0)
    }

    @Test("a failed look-up keeps the mismatch as first seen")
    func failedLookUpKeepsMismatch() throws {
        let (finding, counters) = Confirmation.failed(DeviceFailed())
            .verdict(firstSeen: .treeHeader, "bytenr mismatch", sectors: 4)
        let reported = try #require(finding)
        #expect(reported.kind == .treeHeader)
        #expect(reported.detail.hasPrefix("bytenr mismatch; confirming it failed"))
        #expect(counters.treeErrors == 4)
        #expect(counters.unconfirmed == 0)
    }

    @Test("a persisting mismatch is counted in its own category")
    func persists() throws {
        let (data, dataCounts) = Confirmation.persists(.dataChecksum, "data checksum mismatch")
            .verdict(firstSeen: .dataChecksum, "data checksum mismatch", sectors: 1)
        #expect(data?.kind == .dataChecksum)
        #expect(dataCounts.dataErrors == 1)
        // The second look may see a different problem than the first; it is the one reported.
        let (tree, treeCounts) = Confirmation.persists(.treeHeader, "generation too new")
            .verdict(firstSeen: .treeChecksum, "checksum mismatch", sectors: 4)
        #expect(tree?.kind == .treeHeader)
        #expect(tree?.detail == "generation too new")
        #expect(treeCounts.treeErrors == 4)
    }

    @Test("only a cleared mismatch goes unreported")
    func cleared() {
        let (finding, counters) = Confirmation.cleared.verdict(firstSeen: .dataChecksum, "data checksum mismatch", sectors: 1)
        #expect(finding == nil)
        #expect(counters.unconfirmed == 1)
        #expect(counters.errors == 0)
    }
}

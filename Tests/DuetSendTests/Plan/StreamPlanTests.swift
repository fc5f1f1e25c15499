import DuetSend
import Testing

/// `StreamPlan` on small hand-made streams: which command goes to which section, and with
/// which path.
@Suite struct StreamPlanTests {
    static let uuid = SendUUID(bytes: Array(1...16))!

    static func stream(_ tail: [SendCommand]) -> [SendCommand] {
        [
            SendCommand(.subvol, [.path(.path, "snap"), .uuid(.uuid, uuid), .u64(.ctransid, 7)]),
            SendCommand(.mkfile, [.path(.path, "o257-7-0"), .u64(.ino, 257)]),
            SendCommand(.rename, [.path(.path, "o257-7-0"), .path(.pathTo, "dir-less")])
        ]
            + tail + [SendCommand(.end)]
    }

    @Test func dataAndDeferredAttributesGetTheFinalPath() throws {
        let plan = try StreamPlan.build(
            Self.stream([
                SendCommand(.updateExtent, [.path(.path, "dir-less"), .u64(.fileOffset, 0), .u64(.size, 8192)]),
                SendCommand(.chmod, [.path(.path, "dir-less"), .u64(.mode, 0o4755)]),
                SendCommand(.rename, [.path(.path, "dir-less"), .path(.pathTo, "final")])
            ]))
        #expect(Array(plan.data) == [StreamPlan.DataRange(path: "final", offset: 0, length: 8192)])
        #expect(plan.deferred.map { try? $0.path() } == ["final"])
        #expect(plan.metadata.map(\.type) == [.subvol, .mkfile, .rename, .rename])
    }

    /// A v2 punch and a write of the same file do not commute (seeds 203 and 205 of
    /// scripts/send-soak): such a file keeps its data, FALLOCATEs and TRUNCATEs in kernel order.
    @Test func aFileWithFallocateKeepsKernelOrder() throws {
        let plan = try StreamPlan.build(
            Self.stream([
                SendCommand(.mkfile, [.path(.path, "o258-7-0"), .u64(.ino, 258)]),
                SendCommand(.rename, [.path(.path, "o258-7-0"), .path(.pathTo, "other")]),
                SendCommand(.updateExtent, [.path(.path, "other"), .u64(.fileOffset, 0), .u64(.size, 4096)]),
                SendCommand(.updateExtent, [.path(.path, "dir-less"), .u64(.fileOffset, 16384), .u64(.size, 4096)]),
                SendCommand(.fallocate, [.path(.path, "dir-less"), .u32(.fallocateMode, 3), .u64(.fileOffset, 4096), .u64(.size, 12288)]),
                SendCommand(.truncate, [.path(.path, "dir-less"), .u64(.size, 20000)]),
                SendCommand(.truncate, [.path(.path, "other"), .u64(.size, 4000)]),
                SendCommand(.rename, [.path(.path, "dir-less"), .path(.pathTo, "sparse")])
            ]))
        #expect(Array(plan.data) == [StreamPlan.DataRange(path: "other", offset: 0, length: 4096)])
        #expect(plan.ordered.count == 3)
        guard plan.ordered.count == 3 else { return }
        #expect(plan.ordered[0] == .data(StreamPlan.DataRange(path: "sparse", offset: 16384, length: 4096)))
        if case .command(let command) = plan.ordered[1] {
            #expect(command.type == .fallocate)
            #expect(try command.path() == "sparse")
        } else {
            Issue.record("the FALLOCATE should follow the data")
        }
        if case .command(let command) = plan.ordered[2] {
            #expect(command.type == .truncate && (try? command.path()) == "sparse")
        }
        #expect(!plan.metadata.contains { $0.type == .fallocate })
        // The other file's TRUNCATE stays in the metadata section.
        #expect(plan.metadata.filter { $0.type == .truncate }.count == 1)
    }
}

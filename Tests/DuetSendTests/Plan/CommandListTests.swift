import Testing

@testable import DuetSend

/// Commands packed into a `CommandList` come back equal, in order.
@Suite struct CommandListTests {
    static let commands = [
        SendCommand(.mkfile, [.path(.path, "o257-7-0"), .u64(.ino, 257)]),
        SendCommand(.rename, [.path(.path, "o257-7-0"), .path(.pathTo, SendPath(bytes: [0x66, 0xFF, 0x00 + 1]))]),
        SendCommand(.end),
        SendCommand(
            .setXattr,
            [
                .path(.path, "a"), SendAttribute(.xattrName, Array("user.x".utf8)),
                SendAttribute(.xattrData, [UInt8](repeating: 7, count: 70_000))
            ]),
        SendCommand(.utimes, [.path(.path, "a"), .timespec(.atime, SendTimespec(seconds: -5, nanoseconds: 9))])
    ]

    @Test func packedCommandsComeBackEqualInOrder() {
        let list = CommandList(Self.commands)
        #expect(list.count == Self.commands.count)
        #expect(Array(list) == Self.commands)
        #expect(Array(list)[3] == Self.commands[3], "a value longer than 64 KiB keeps its length")
    }

    @Test func removingDropsExactlyThosePositions() {
        let list = CommandList(Self.commands).removing([0, 2])
        #expect(Array(list) == [Self.commands[1], Self.commands[3], Self.commands[4]])
        #expect(CommandList(Self.commands).removing([]) == CommandList(Self.commands))
    }

    /// More than the spool's 256 KiB write buffer and 1 MiB read window: records straddle both.
    @Test func aListLargerThanTheSpoolBuffersReadsBackWhole() {
        let commands = (0..<30_000).map { index in
            SendCommand(
                .rename,
                [
                    .path(.path, SendPath("o\(index)-7-0")),
                    .path(.pathTo, SendPath(String(repeating: "d/", count: index % 40) + "f\(index)"))
                ])
        }
        let list = CommandList(commands)
        #expect(list.count == commands.count)
        #expect(Array(list) == commands)
        var appended = list
        appended.append(SendCommand(.end))
        #expect(Array(list) == commands, "a copy appended to leaves the original as it was")
        #expect(appended.count == commands.count + 1 && Array(appended).last == SendCommand(.end))
        // Both copies appending after each other: each reads back its own records only.
        var original = list
        original.append(Self.commands[0])
        appended.append(Self.commands[1])
        #expect(Array(original) == commands + [Self.commands[0]])
        #expect(Array(appended) == commands + [SendCommand(.end), Self.commands[1]])
    }

    @Test func dataRangesComeBackEqualInOrder() {
        let ranges = (0..<40_000).map { index in
            StreamPlan.DataRange(
                path: SendPath(String(repeating: "dir/", count: index % 30) + "f\(index)"),
                offset: UInt64(index) << 12, length: UInt64(index % 7 + 1) << 12)
        }
        let list = DataRangeList(ranges)
        #expect(list.count == ranges.count)
        #expect(Array(list) == ranges)
        let long = StreamPlan.DataRange(path: SendPath(String(repeating: "x", count: 2 << 20)), offset: 1, length: 2)
        #expect(Array(DataRangeList([ranges[0], long, ranges[1]])) == [ranges[0], long, ranges[1]], "a record longer than the read window")
    }

    @Test func spilledRecordsComeBackInOrder() {
        struct Record: BitwiseCopyable, Equatable {
            var a: Int
            var b: UInt64
            var c: UInt32
        }
        var records = SpilledRecords<Record>()
        let expected = (0..<100_000).map { Record(a: $0, b: UInt64($0) * 3, c: UInt32($0 % 11)) }
        for record in expected { records.append(record) }
        var read: [Record] = []
        records.forEach { read.append($0) }
        #expect(records.count == expected.count)
        #expect(read == expected)
    }
}

@testable import DuetSend
import Testing

/// Commands packed into a `CommandList` come back equal, in order.
@Suite struct CommandListTests {
    static let commands = [
        SendCommand(.mkfile, [.path(.path, "o257-7-0"), .u64(.ino, 257)]),
        SendCommand(.rename, [.path(.path, "o257-7-0"), .path(.pathTo, SendPath(bytes: [0x66, 0xFF, 0x00 + 1]))]),
        SendCommand(.end),
        SendCommand(.setXattr, [.path(.path, "a"), SendAttribute(.xattrName, Array("user.x".utf8)),
                                SendAttribute(.xattrData, [UInt8](repeating: 7, count: 70_000))]),
        SendCommand(.utimes, [.path(.path, "a"), .timespec(.atime, SendTimespec(seconds: -5, nanoseconds: 9))]),
    ]

    @Test func packedCommandsComeBackEqualInOrder() {
        let list = CommandList(Self.commands)
        #expect(list.count == Self.commands.count)
        #expect(Array(list) == Self.commands)
        #expect(list[3] == Self.commands[3], "a value longer than 64 KiB keeps its length")
    }

    @Test func removingDropsExactlyThosePositions() {
        let list = CommandList(Self.commands).removing([0, 2])
        #expect(Array(list) == [Self.commands[1], Self.commands[3], Self.commands[4]])
        #expect(CommandList(Self.commands).removing([]) == CommandList(Self.commands))
    }

    /// More than the spool's 1 MiB write buffer and read window: records straddle both.
    @Test func aListLargerThanTheSpoolBuffersReadsBackWhole() {
        let commands = (0..<30_000).map { index in
            SendCommand(.rename, [.path(.path, SendPath("o\(index)-7-0")),
                                  .path(.pathTo, SendPath(String(repeating: "d/", count: index % 40) + "f\(index)"))])
        }
        let list = CommandList(commands)
        #expect(list.count == commands.count)
        #expect(Array(list) == commands)
        #expect(list[29_999] == commands[29_999] && list[12_345] == commands[12_345])
        var appended = list
        appended.append(SendCommand(.end))
        #expect(Array(list) == commands, "a copy appended to leaves the original as it was")
        #expect(appended.count == commands.count + 1 && appended[commands.count] == SendCommand(.end))
    }
}

import DuetFS
import DuetSend
import DuetTestSupport
import Foundation
import Glibc
import Testing

extension SendIntegrationTests {
    /// `duet send` against the real `btrfs send` of this machine, for the same invocations: the
    /// same standard error, byte for byte, and the same exit code (what fstests' golden files and
    /// scripts compare), and `-e` received whole by stock `btrfs receive -e`. The expected text is
    /// whatever `btrfs send` prints at test time, never a copy kept here.
    @Suite struct BtrfsSendParityTests {
        /// live (read-write) → s0, s1, s2, s3 (read-only), with a directory and a file inside s0.
        static func makeHistory(_ fs: TestFileSystem) throws {
            try fs.createSubvolume("live")
            try fs.writeFile("live/a", size: 300_000, seed: 1)
            try fs.writeFile("live/dir/b", size: 70_000, seed: 2)
            try fs.snapshot("live", as: "s0")
            try fs.writeFile("live/c", size: 150_000, seed: 3)
            try Command.run(["mv", fs.path("live/dir/b"), fs.path("live/b-moved")])
            try fs.snapshot("live", as: "s1")
            try fs.writeFile("live/a", size: 100_000, seed: 4)
            try Command.run(["rm", fs.path("live/c")])
            try fs.snapshot("live", as: "s2")
            try fs.writeFile("live/dir/d", size: 20_000, seed: 5)
            try fs.snapshot("live", as: "s3")
        }

        /// Runs `tool send arguments` with `directory` as the working directory (for relative
        /// paths, which btrfs send prints as given) and the stream to /dev/null.
        static func send(_ tool: String, _ arguments: [String], in directory: String) throws -> Command.Result {
            try Command.execute(["sh", "-c", "cd \"$0\" && exec \"$@\" >/dev/null", directory, tool, "send"] + arguments)
        }

        static func expectSameOutput(_ arguments: [String], in directory: String, sourceLocation: SourceLocation = #_sourceLocation) throws
        {
            let stock = try send("btrfs", arguments, in: directory)
            let duet = try send(DuetBinary.path, arguments, in: directory)
            #expect(
                duet.errorOutput == stock.errorOutput,
                "send \(arguments): btrfs printed\n\(stock.errorOutput)duet printed\n\(duet.errorOutput)",
                sourceLocation: sourceLocation)
            #expect(
                duet.status == stock.status, "send \(arguments): btrfs exited \(stock.status), duet \(duet.status)",
                sourceLocation: sourceLocation)
        }

        @Test func successfulSendsPrintWhatBtrfsSendPrints() throws {
            try TestFileSystem.with { fs in
                try Self.makeHistory(fs)
                let invocations: [[String]] = [
                    ["s0"], ["-q", "s0"], ["--quiet", "s0"], ["-v", "s0"], ["--verbose", "s0"], ["-vv", "s0"], ["-v", "-v", "-v", "s0"],
                    ["-q", "-v", "s0"], ["-v", "-q", "s0"], ["-p", "s0", "s1"], ["-ps0", "s1", "-q", "-v"], ["-c", "s0", "s1", "s2"],
                    ["-e", "s0", "s1", "s2"], ["-v", "-e", "-p", "s0", "s1", "s2"], ["-v", "--no-data", "s0"], ["--proto", "0", "-v", "s0"],
                    ["--proto", "2", "--compressed-data", "s1"], ["s2", "-f", fs.directory + "/out-a"],
                    ["-f" + fs.directory + "/out-b", "s2"],
                    [fs.path("s0")]
                ]
                for arguments in invocations { try Self.expectSameOutput(arguments, in: fs.mountPoint) }
            }
        }

        @Test func refusedSendsPrintBtrfsSendsErrors() throws {
            try TestFileSystem.with { fs in
                try TestFileSystem.with { other in
                    try Self.makeHistory(fs)
                    try other.createSubvolume("o")
                    try other.snapshot("o", as: "o-ro")
                    // A snapshot of another subvolume: no parent among the -c sources.
                    try fs.createSubvolume("x")
                    try fs.snapshot("x", as: "xs")
                    let invocations: [[String]] = [
                        ["live"], ["s0", "live"], ["-p", "live", "s1"], ["-c", "live", "s1"], ["-c", "live", "gone"],
                        ["gone"], ["-p", "gone", "s1"], ["-c", "gone", "s1"], ["s0/dir"], ["s0/a"], ["-p", "s0/dir", "s1"],
                        ["-p", other.path("o-ro"), "s1"], ["s0", other.path("o-ro")], ["-p", "s0", "-p", "s1", "s2"],
                        ["-i", "s0", "s1"], [fs.directory], ["-c", fs.directory, "s1"], ["-f", fs.directory + "/no-such-dir/x", "s0"],
                        ["--compressed-data", "--proto", "1", "s0"], ["-c", "s0", "xs"], ["-c", "s0", "s1", "xs"]
                    ]
                    for arguments in invocations { try Self.expectSameOutput(arguments, in: fs.mountPoint) }
                    // A version the kernel does not send: btrfs send's reader thread sometimes also
                    // reports EBADF on the pipe it races to close (exit 9); its first lines are the rule.
                    let stockProto = try Self.send("btrfs", ["--proto", "3", "s0"], in: fs.mountPoint)
                    let duetProto = try Self.send(DuetBinary.path, ["--proto", "3", "s0"], in: fs.mountPoint)
                    #expect(
                        !duetProto.errorOutput.isEmpty && stockProto.errorOutput.hasPrefix(duetProto.errorOutput),
                        "btrfs printed\n\(stockProto.errorOutput)duet printed\n\(duetProto.errorOutput)")
                    #expect(duetProto.status == 1 && stockProto.status != 0)
                    // Not root: btrfs send's own refusal comes first.
                    let user = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--"]
                    let stockUser = try Command.execute(user + ["btrfs", "send", fs.path("s0")])
                    let duetUser = try Command.execute(user + [DuetBinary.path, "send", fs.path("s0")])
                    #expect(
                        duetUser.errorOutput == stockUser.errorOutput && duetUser.status == stockUser.status,
                        "as a user: btrfs printed\n\(stockUser.errorOutput)duet printed\n\(duetUser.errorOutput)")
                    // No snapshot at all: the same text but for the program's name.
                    let stock = try Self.send("btrfs", [], in: fs.mountPoint)
                    let duet = try Self.send(DuetBinary.path, [], in: fs.mountPoint)
                    #expect(duet.status == stock.status)
                    #expect(duet.errorOutput == stock.errorOutput.replacingOccurrences(of: "btrfs send:", with: "duet send:"))
                }
            }
        }

        /// A reader that stops early (a failing `btrfs receive`): killed by SIGPIPE like btrfs send,
        /// with no error line of its own beside the receiver's.
        @Test func aReaderThatStopsEndsTheSendAsItEndsBtrfsSend() throws {
            try TestFileSystem.with { fs in
                try Self.makeHistory(fs)
                func run(_ tool: String) throws -> Command.Result {
                    // s1's stream (about 500 KB) is larger than a pipe holds, so the writer must hit the closed pipe.
                    try Command.execute([
                        "bash", "-c", "\"$0\" send \"$1\" | head -c 10 >/dev/null; exit ${PIPESTATUS[0]}", tool, fs.path("s1")
                    ])
                }
                let stock = try run("btrfs")
                let duet = try run(DuetBinary.path)
                #expect(stock.status == 128 + SIGPIPE)
                #expect(duet.status == stock.status)
                #expect(duet.errorOutput == stock.errorOutput)
            }
        }

        /// --no-data streams are the kernel's, so they must equal btrfs send's byte for byte: the
        /// same parent for every snapshot with -p, the same one chosen among -c sources and the
        /// snapshots sent before, and with -e one header and one END.
        @Test func noDataStreamsAreByteForByteBtrfsSends() throws {
            try TestFileSystem.with { fs in
                try Self.makeHistory(fs)
                let invocations: [[String]] = [
                    ["s0"], ["s0", "s1"], ["-p", "s0", "s1", "s2"], ["-c", "s0", "s1", "s2", "s3"], ["-c", "s0", "-c", "s1", "s3"],
                    ["-e", "s0", "s1", "s2"], ["-e", "-p", "s0", "s1", "s2", "s3"], ["-e", "-c", "s0", "s2", "s3"],
                    ["--proto", "2", "-e", "s0", "s1"]
                ]
                for (index, arguments) in invocations.enumerated() {
                    let stock = fs.directory + "/stock-\(index)"
                    let duet = fs.directory + "/duet-\(index)"
                    #expect(try Self.send("btrfs", ["-q", "--no-data", "-f", stock] + arguments, in: fs.mountPoint).status == 0)
                    let result = try Self.send(DuetBinary.path, ["-q", "--no-data", "-f", duet] + arguments, in: fs.mountPoint)
                    #expect(result.status == 0, "\(arguments): \(result.errorOutput)")
                    #expect(
                        try Data(contentsOf: URL(fileURLWithPath: duet)) == (try Data(contentsOf: URL(fileURLWithPath: stock))),
                        "send --no-data \(arguments) differs from btrfs send's")
                }
            }
        }

        /// Standard output on a terminal: both refuse with the same line (through `script`'s pty).
        @Test func aTerminalIsRefusedAsBtrfsSendRefusesIt() throws {
            try TestFileSystem.with { fs in
                try Self.makeHistory(fs)
                let stock = try Command.execute(["script", "-qec", "btrfs send '\(fs.path("s0"))'", "/dev/null"])
                let duet = try Command.execute(["script", "-qec", "'\(DuetBinary.path)' send '\(fs.path("s0"))'", "/dev/null"])
                #expect(stock.output.contains("not dumping send stream into a terminal"), "\(stock.output)")
                #expect(duet.output == stock.output)
                #expect(duet.status == stock.status)
            }
        }

        /// With standard error and the stream in one file, "At subvol X" comes right before each
        /// snapshot's stream, as btrfs send prints it before its ioctl.
        @Test func atSubvolPrecedesEachStream() throws {
            try TestFileSystem.with { fs in
                try Self.makeHistory(fs)
                let mixed = fs.directory + "/mixed"
                try Command.run(["sh", "-c", "cd \"$0\" && exec \"$1\" send s0 s1 >\"$2\" 2>&1", fs.mountPoint, DuetBinary.path, mixed])
                let bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: mixed)))
                let first = Array("At subvol s0\nbtrfs-stream\0".utf8)
                let second = Array("At subvol s1\nbtrfs-stream\0".utf8)
                #expect(Array(bytes.prefix(first.count)) == first)
                let found = (first.count..<max(first.count, bytes.count - second.count)).contains {
                    Array(bytes[$0..<$0 + second.count]) == second
                }
                #expect(found, "no \"At subvol s1\" line right before the second stream")
            }
        }

        /// -e with two and three snapshots, full and incremental: one END, and `btrfs receive -e`
        /// receives every snapshot identical to its source, as from `btrfs send -e`.
        @Test(arguments: [(2, false), (3, false), (2, true), (3, true)])
        func dashEIsOneStreamThatReceiveDashEReceivesWhole(count: Int, incremental: Bool) throws {
            try TestFileSystem.with { fs in
                try TestFileSystem.with { target in
                    try Self.makeHistory(fs)
                    // Full: s0…; incremental: s1… from the parent s0.
                    let sent = Array((incremental ? ["s1", "s2", "s3"] : ["s0", "s1", "s2"]).prefix(count))
                    var arguments = ["-q", "-e"]
                    if incremental {
                        // The parent is on the receiving side already.
                        let base = target.directory + "/base"
                        try Command.run(["btrfs", "-q", "send", "-f", base, fs.path("s0")])
                        try SendHarness.receive(base, into: target.mountPoint)
                        arguments += ["-p", fs.path("s0")]
                    }
                    let duetFile = target.directory + "/duet-e"
                    let stockFile = target.directory + "/btrfs-e"
                    let result = try DuetBinary.run(["send"] + arguments + ["-f", duetFile] + sent.map(fs.path))
                    #expect(result.status == 0, "\(result.errorOutput)")
                    try Command.run(["btrfs", "send"] + arguments + ["-f", stockFile] + sent.map(fs.path))
                    for file in [duetFile, stockFile] {
                        #expect(try SendHarness.count(.end, in: file) == 1, "\(file)")
                        #expect(try SendHarness.count(incremental ? .snapshot : .subvol, in: file) == sent.count, "\(file)")
                    }
                    try Command.run(["btrfs", "-q", "receive", "-e", "-f", duetFile, target.mountPoint])
                    for name in sent {
                        try SendHarness.requireSame(try TreeManifest(root: target.path(name)), try TreeManifest(root: fs.path(name)), name)
                        #expect(try Subvolumes.isReadOnly(target.path(name)), "\(name) was not finished by receive")
                    }
                }
            }
        }
    }
}

import DuetFS
import DuetSend
import DuetTestSupport
import Foundation
import Glibc
import Testing

extension SendIntegrationTests {
    /// The `duet send` command line as `btrfs send` scripts use it.
    @Suite struct SendCommandLineTests {
        static func makeHistory(_ fs: TestFileSystem) throws {
            try fs.createSubvolume("live")
            try fs.writeFile("live/a", size: 1 << 20, seed: 1)
            try fs.writeFile("live/d/b", size: 300_000, seed: 2)
            try fs.snapshot("live", as: "s0")
            try Command.run(["cp", "--reflink=always", fs.path("live/a"), fs.path("live/a-copy")])
            try fs.writeFile("live/c", size: 200_000, seed: 3)
            try fs.snapshot("live", as: "s1")
        }

        @Test func severalSnapshotsGiveOneCompleteStreamEach() throws {
            try TestFileSystem.with { fs in
                try TestFileSystem.with { target in
                    try Self.makeHistory(fs)
                    let out = target.directory + "/both"
                    let result = try DuetBinary.run(["send", "-f", out, fs.path("s0"), fs.path("s1")])
                    #expect(result.status == 0, "\(result.errorOutput)")
                    #expect(result.errorOutput.contains("At subvol \(fs.path("s1"))"))
                    let kernel = target.directory + "/kernel-both"
                    try Command.run(["btrfs", "-q", "send", "-f", kernel, fs.path("s0"), fs.path("s1")])
                    // Same shape as btrfs send: a header and END per snapshot, both full (SUBVOL).
                    for file in [out, kernel] {
                        #expect(try SendHarness.count(.subvol, in: file) == 2)
                        #expect(try SendHarness.count(.end, in: file) == 2)
                    }
                    try SendHarness.receive(out, into: target.mountPoint)
                    for name in ["s0", "s1"] {
                        try SendHarness.requireSame(try TreeManifest(root: target.path(name)), try TreeManifest(root: fs.path(name)), name)
                    }
                }
            }
        }

        @Test func aCloneSourceWithoutParentPicksTheParentLikeBtrfsSend() throws {
            try TestFileSystem.with { fs in
                try TestFileSystem.with { target in
                    try Self.makeHistory(fs)
                    let first = target.directory + "/s0"
                    #expect(try DuetBinary.run(["send", "-q", "-f", first, fs.path("s0")]).status == 0)
                    let out = target.directory + "/s1"
                    let result = try DuetBinary.run(["send", "-q", "--proto", "2", "-c", fs.path("s0"), "-f", out, fs.path("s1")])
                    #expect(result.status == 0, "\(result.errorOutput)")
                    #expect(result.errorOutput.isEmpty, "-q prints nothing: \(result.errorOutput)")
                    let kernel = target.directory + "/kernel-s1"
                    try Command.run(["btrfs", "-q", "send", "--proto", "2", "-c", fs.path("s0"), "-f", kernel, fs.path("s1")])
                    #expect(try SendHarness.count(.snapshot, in: out) == 1)
                    #expect(try SendHarness.count(.snapshot, in: kernel) == 1)
                    #expect(try SendHarness.count(.clone, in: out) == (try SendHarness.count(.clone, in: kernel)))
                    try SendHarness.receive(first, into: target.mountPoint)
                    try SendHarness.receive(out, into: target.mountPoint)
                    try SendHarness.requireSame(try TreeManifest(root: target.path("s1")), try TreeManifest(root: fs.path("s1")), "s1")
                }
            }
        }

        @Test func jsonSummaryGoesToStandardErrorAndNoDataIsTheKernelStream() throws {
            try TestFileSystem.with { fs in
                try Self.makeHistory(fs)
                let out = fs.directory + "/out"
                let result = try DuetBinary.run(["send", "--json", "-f", out, fs.path("s0")])
                #expect(result.status == 0)
                let json = try #require(try JSONSerialization.jsonObject(with: Data(result.errorOutput.utf8)) as? [String: Any])
                #expect(json["command"] as? String == "send")
                let total = try #require((json["result"] as? [String: Any])?["total"] as? [String: Any])
                #expect(total["diskBytes"] != nil && total["ownCacheBytes"] != nil && total["otherCacheBytes"] != nil)
                let nodata = fs.directory + "/nodata"
                #expect(try DuetBinary.run(["send", "-q", "--no-data", "-f", nodata, fs.path("s0")]).status == 0)
                #expect(try SendHarness.count(.updateExtent, in: nodata) > 0)
                #expect(try SendHarness.count(.write, in: nodata) == 0)
                let terminalless = try DuetBinary.run(["send", "--proto", "3", fs.path("s0")])
                #expect(terminalless.status != 0)
                let deadlineAlone = try DuetBinary.run(["send", "--deadline", "2h", "-f", out, fs.path("s0")])
                #expect(deadlineAlone.status == 1 && deadlineAlone.errorOutput.contains("--deadline applies to --idle"))
                let badDeadline = try DuetBinary.run(["send", "--idle", "--deadline", "later", "-f", out, fs.path("s0")])
                #expect(badDeadline.status == 1 && badDeadline.errorOutput.contains("--deadline later"))
            }
        }
    }
}

import DuetFS
import DuetSend
import DuetTestSupport
import Foundation
import Glibc
import Testing

extension SendIntegrationTests {
    /// `duet send` opens a file while its data is read, not for the whole send: a snapshot of far
    /// more files than the descriptor limit goes out whole (issue 14; before, every file with
    /// data held a descriptor until the end and 1,100 files failed under `ulimit -n 1024`).
    @Suite struct SendDescriptorLimitTests {
        static let files = 2_000

        /// 2,000 files, 100 to a directory: inline (1,000 B), one extent (8 KiB), and every
        /// tenth 100 KiB with a hole in the middle.
        static func makeSnapshot(_ fs: TestFileSystem) throws {
            try fs.createSubvolume("live")
            for index in 0..<files {
                let path = "live/d\(index / 100)/f\(index)"
                switch index % 10 {
                case 0:
                    try fs.writeFile(path, size: 100 << 10, seed: UInt64(index + 1))
                    let descriptor = open(fs.path(path), O_WRONLY)
                    #expect(descriptor >= 0)
                    #expect(GNU.fallocate(descriptor, GNU.keepSize | GNU.punchHole, 32 << 10, 32 << 10) == 0)
                    close(descriptor)
                case 1, 3, 5, 7, 9:
                    try fs.writeFile(path, size: 1_000, seed: UInt64(index + 1))
                default:
                    try fs.writeFile(path, size: 8 << 10, seed: UInt64(index + 1))
                }
            }
            try fs.snapshot("live", as: "snap")
            try fs.sync()
        }

        /// Reads every `stride`th file of `root` from `start` (so the send finds them cached).
        static func read(_ fs: TestFileSystem, _ root: String, start: Int, stride: Int) throws {
            for index in Swift.stride(from: start, to: files, by: stride) {
                _ = try Data(contentsOf: URL(fileURLWithPath: fs.path("\(root)/d\(index / 100)/f\(index)")))
            }
        }

        @Test func twoThousandFilesUnderADescriptorLimitOf64() throws {
            try TestFileSystem.with { fs in
                try TestFileSystem.with { target in
                    try Self.makeSnapshot(fs)
                    try TestFileSystem.dropCaches()
                    // Every source at once: a third cached in the snapshot, a third only under
                    // the live subvolume's inodes (other cache), the rest from disk.
                    try Self.read(fs, "snap", start: 0, stride: 3)
                    try Self.read(fs, "live", start: 1, stride: 3)
                    let out = target.directory + "/stream"
                    let result = try Command.execute([
                        "sh", "-c", "ulimit -n 64 && exec \"$0\" send --json --no-ledger -f \"$1\" \"$2\"",
                        DuetBinary.path, out, fs.path("snap")
                    ])
                    #expect(result.status == 0, "\(result.errorOutput)")
                    guard result.status == 0 else { return }
                    let json = try #require(try JSONSerialization.jsonObject(with: Data(result.errorOutput.utf8)) as? [String: Any])
                    let total = try #require((json["result"] as? [String: Any])?["total"] as? [String: Any])
                    for source in ["ownCacheBytes", "otherCacheBytes", "diskBytes"] {
                        #expect((total[source] as? Int ?? 0) > 0, "\(source) used: \(total)")
                    }
                    try SendHarness.receive(out, into: target.mountPoint)
                    try SendHarness.requireSame(
                        try TreeManifest(root: target.path("snap")), try TreeManifest(root: fs.path("snap")), "snap")
                }
            }
        }
    }
}

import DuetFS
import DuetTestSupport
import Foundation
import Glibc
import Testing

extension SendIntegrationTests {
    /// `duet send` (the binary) on bad input and failing I/O: a clear message, exit 1, and no output
    /// that `btrfs receive` could take for a complete stream.
    @Suite struct SendFailureTests {
        @Test func aReadWriteSubvolumeIsRefused() throws {
            try TestFileSystem.with { fs in
                try fs.createSubvolume("live")
                try fs.writeFile("live/a", size: 10_000)
                let out = fs.directory + "/out"
                let result = try DuetBinary.run(["send", "-f", out, fs.path("live")])
                #expect(result.status == 1)
                #expect(result.errorOutput.contains("not read-only"), "\(result.errorOutput)")
                #expect(!FileManager.default.fileExists(atPath: out))
            }
        }

        @Test func aMissingParentIsRefused() throws {
            try TestFileSystem.with { fs in
                try fs.createSubvolume("live")
                try fs.snapshot("live", as: "snap")
                let out = fs.directory + "/out"
                let result = try DuetBinary.run(["send", "-p", fs.path("gone"), "-f", out, fs.path("snap")])
                #expect(result.status == 1)
                #expect(
                    result.errorOutput == "ERROR: realpath \(fs.path("gone")) failed: No such file or directory\n", "\(result.errorOutput)")
                #expect(!FileManager.default.fileExists(atPath: out))
            }
        }

        @Test func anUnreadableExtentFailsWithThePathAndOffset() throws {
            try TestFileSystem.with(TestFileSystemOptions(dataProfile: .single)) { fs in
                try TestFileSystem.with { target in
                    try fs.createSubvolume("live")
                    try fs.writeFile("live/good", size: 100_000, seed: 1)
                    try fs.writeFile("live/bad", size: 1 << 20, seed: 2)
                    try fs.sync()
                    try fs.snapshot("live", as: "snap")
                    let extent = try #require(try Fiemap.extents(ofFileAt: fs.path("snap/bad")).first)
                    let map = try ChunkMap.load(from: try fs.open())
                    let location = try map.map(extent.logical + 65536).copies[0]
                    try BlockDevice.corrupt(fs.devices[0], sectorAt: location.physical)
                    try TestFileSystem.dropCaches()

                    let out = fs.directory + "/out"
                    let result = try DuetBinary.run(["send", "-f", out, fs.path("snap")])
                    #expect(result.status == 1)
                    #expect(result.errorOutput.contains("snap/bad") && result.errorOutput.contains("offset 65536"), "\(result.errorOutput)")
                    #expect(!FileManager.default.fileExists(atPath: out))

                    // Through a pipe: receive must fail and leave no read-only (finished) subvolume.
                    try TestFileSystem.dropCaches()
                    let piped = try Command.execute([
                        "sh", "-c", "'\(DuetBinary.path)' send -q '\(fs.path("snap"))' | btrfs receive '\(target.mountPoint)'"
                    ])
                    #expect(piped.status != 0, "receive accepted a cut stream: \(piped.errorOutput)")
                    let received = target.path("snap")
                    if FileManager.default.fileExists(atPath: received) {
                        #expect(!(try Subvolumes.isReadOnly(received)), "a cut stream must not finish the received subvolume")
                    }
                }
            }
        }

        @Test func aFullOutputDiskFailsAndRemovesItsTemporaryFile() throws {
            try TestFileSystem.with { fs in
                try fs.createSubvolume("live")
                try fs.writeFile("live/a", size: 2 << 20)
                try fs.snapshot("live", as: "snap")
                let small = fs.directory + "/tiny"
                try FileManager.default.createDirectory(atPath: small, withIntermediateDirectories: true)
                try Command.run(["mount", "-t", "tmpfs", "-o", "size=256k", "duet-test-tiny", small])
                defer { _ = try? Command.execute(["umount", small]) }
                let out = small + "/stream"
                let result = try DuetBinary.run(["send", "-f", out, fs.path("snap")])
                #expect(result.status == 1)
                #expect(result.errorOutput.contains("No space left"), "\(result.errorOutput)")
                #expect(try FileManager.default.contentsOfDirectory(atPath: small) == [], "the temporary file stayed")
            }
        }
    }
}

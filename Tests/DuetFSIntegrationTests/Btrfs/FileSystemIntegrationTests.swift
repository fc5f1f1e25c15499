import DuetFS
import DuetTestSupport
import Foundation
import Testing

/// The information ioctls and the reference lookups, cross-checked with sysfs and btrfs-progs.
@Suite(.enabled(if: IntegrationGate.enabled), .serialized)
struct FileSystemIntegrationTests {
    @Test("FS_INFO, DEV_INFO and GET_DEV_STATS agree with sysfs and btrfs-progs")
    func informationIoctls() throws {
        try TestFileSystem.with(
            .init(deviceCount: 2, deviceSize: 300 << 20, checksum: .sha256, dataProfile: .raid1, metadataProfile: .raid1)
        ) { testFS in
            let fileSystem = try testFS.open()
            let info = try fileSystem.info()
            let sysfs = "/sys/fs/btrfs/\(info.fsid)"
            func read(_ name: String) throws -> String {
                try String(contentsOfFile: "\(sysfs)/\(name)", encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
            }
            #expect(try read("checksum").hasPrefix("sha256"))
            #expect(try read("nodesize") == "\(info.nodeSize)")
            #expect(try read("sectorsize") == "\(info.sectorSize)")
            #expect(info.checksumType == .sha256)
            #expect(info.deviceCount == 2)
            #expect(info.metadataUUID == info.fsid)
            // The generation is the running transaction's: commit it first, then write.
            try fileSystem.sync()
            let before = try fileSystem.info().generation
            try testFS.writeFile("x", size: 4096)
            try fileSystem.sync()
            #expect(try fileSystem.info().generation > before)

            let devices = try fileSystem.devices()
            #expect(devices.map(\.path) == testFS.devices)
            #expect(devices.allSatisfy { $0.totalBytes == 300 << 20 })
            let stats = try fileSystem.deviceStatistics(id: 1)
            #expect(stats == DeviceStatistics(writeErrors: 0, readErrors: 0, flushErrors: 0, corruptionErrors: 0, generationErrors: 0))
            #expect(throws: DuetError.self) { try fileSystem.deviceStatistics(id: 9) }
            #expect(try fileSystem.device(id: 9) == nil)
        }
    }

    @Test("LOGICAL_INO_V2 and INO_PATHS find every file of a shared extent, per subvolume")
    func referencesAndPaths() throws {
        try TestFileSystem.with { testFS in
            try testFS.createSubvolume("sv")
            try testFS.writeFile("sv/dir/original", size: 1 << 20, seed: 5)
            try Command.run(["cp", "--reflink=always", testFS.path("sv/dir/original"), testFS.path("sv/copy")])
            try Command.run(["ln", testFS.path("sv/dir/original"), testFS.path("sv/hardlink")])
            try testFS.snapshot("sv", as: "snap")
            try testFS.sync()
            let fileSystem = try testFS.open()
            let subvolume = try Subvolumes.id(of: testFS.path("sv"))
            let snapshot = try Subvolumes.id(of: testFS.path("snap"))
            #expect(subvolume != snapshot)

            let extents = try Fiemap.extents(ofFileAt: testFS.path("sv/dir/original"))
            #expect(extents.count == 1)
            let extent = try #require(extents.first)
            #expect(extent.isShared && extent.isLast && extent.length == 1 << 20)
            let original = try Self.inode(testFS.path("sv/dir/original"))
            let copy = try Self.inode(testFS.path("sv/copy"))

            let references = try fileSystem.inodes(atLogical: extent.logical + 8192)
            let expected: Set<InodeReference> = [
                InodeReference(inode: original, fileOffset: 8192, root: subvolume),
                InodeReference(inode: copy, fileOffset: 8192, root: subvolume),
                InodeReference(inode: original, fileOffset: 8192, root: snapshot),
                InodeReference(inode: copy, fileOffset: 8192, root: snapshot)
            ]
            #expect(Set(references) == expected)
            #expect(references.count == 4)

            let paths = try FileSystem.paths(ofInode: original, inSubvolumeAt: testFS.path("snap"))
            #expect(Set(paths) == ["dir/original", "hardlink"])
            #expect(try FileSystem.paths(ofInode: copy, inSubvolumeAt: testFS.path("sv")) == ["copy"])
        }
    }

    @Test("subvolumes through libbtrfsutil agree with btrfs subvolume list")
    func subvolumes() throws {
        try TestFileSystem.with { testFS in
            try testFS.createSubvolume("a")
            try testFS.createSubvolume("a/nested")
            try Subvolumes.create(at: testFS.path("b"))
            try Subvolumes.snapshot(of: testFS.path("a"), at: testFS.path("a-ro"), readOnly: true)
            let listed = try Subvolumes.list(mountPath: testFS.mountPoint)
            #expect(listed.map(\.path) == ["a", "a/nested", "b", "a-ro"] || Set(listed.map(\.path)) == ["a", "a/nested", "b", "a-ro"])
            let progs = try Command.run(["btrfs", "subvolume", "list", "-u", "-q", testFS.mountPoint])
            for subvolume in listed {
                #expect(progs.contains("ID \(subvolume.id) "))
                #expect(progs.contains("path \(subvolume.path)\n") || progs.hasSuffix("path \(subvolume.path)"))
                #expect(progs.contains("uuid \(UUIDText.format(subvolume.uuid))"))
            }
            let snapshot = try #require(listed.first { $0.path == "a-ro" })
            let source = try #require(listed.first { $0.path == "a" })
            #expect(snapshot.isReadOnly && !source.isReadOnly)
            #expect(snapshot.parentUUID == source.uuid)
            #expect(try Subvolumes.info(path: testFS.path("a-ro")).id == snapshot.id)
            #expect(try Subvolumes.info(path: testFS.path("a-ro")).path == "a-ro")
            #expect(try Subvolumes.isReadOnly(testFS.path("a-ro")))
            #expect(listed.first { $0.path == "a/nested" }?.parentID == source.id)
            try Subvolumes.delete(at: testFS.path("b"))
            #expect(try Subvolumes.list(mountPath: testFS.mountPoint).count == 3)
        }
    }

    static func inode(_ path: String) throws -> UInt64 {
        var status = stat()
        guard stat(path, &status) == 0 else { throw HarnessError("stat \(path)") }
        return UInt64(status.st_ino)
    }
}

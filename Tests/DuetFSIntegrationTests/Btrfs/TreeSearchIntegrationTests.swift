import DuetFS
import DuetTestSupport
import Foundation
import Testing

@Suite(.enabled(if: IntegrationGate.enabled), .serialized)
struct TreeSearchIntegrationTests {
    @Test("a search over more than 10,000 files returns every inode item exactly once")
    func everyInodeOnce() throws {
        try TestFileSystem.with(.init(deviceSize: 1 << 30)) { testFS in
            var expected: Set<UInt64> = []
            for directory in 0..<21 {
                let directoryPath = testFS.path("d\(directory)")
                try FileManager.default.createDirectory(atPath: directoryPath, withIntermediateDirectories: false)
                expected.insert(try Self.inode(directoryPath))
                for file in 0..<500 {
                    let path = "\(directoryPath)/f\(file)"
                    // Small files carry inline extents: items of other types between the inode items.
                    let descriptor = open(path, O_WRONLY | O_CREAT | O_EXCL, 0o644)
                    guard descriptor >= 0 else { throw HarnessError("cannot create \(path)") }
                    let content = Array("x\(file)".utf8)
                    let written = write(descriptor, content, content.count)
                    close(descriptor)
                    guard written == content.count else { throw HarnessError("cannot write \(path)") }
                    expected.insert(try Self.inode(path))
                }
            }
            expected.insert(256)  // the subvolume's root directory
            try testFS.sync()
            let fileSystem = try testFS.open()
            var cursor = fileSystem.items(tree: TreeID.fs, type: ItemType.inodeItem, objectIDs: TreeID.firstFree...TreeID.lastFree)
                .makeCursor(bufferSize: 16 * 1024)
            var seen: [UInt64] = []
            while let item = try cursor.next() {
                #expect(item.key.type == ItemType.inodeItem)
                seen.append(item.key.objectID)
                _ = try InodeItem(bytes: item.data)
            }
            #expect(seen.count > 10_000)
            #expect(seen.count == Set(seen).count, "an inode item came back twice")
            #expect(Set(seen) == expected)
            #expect(cursor.calls > 10, "a 16 KiB buffer must take many calls: continuation was not exercised")
        }
    }

    @Test("an item larger than the buffer grows the buffer (EOVERFLOW)")
    func growsOnOverflow() throws {
        try TestFileSystem.with(.init()) { testFS in
            try testFS.writeFile("big", size: 8 << 20, seed: 3)
            try testFS.sync()
            let fileSystem = try testFS.open()
            let normal = try fileSystem.items(tree: TreeID.csum, type: ItemType.extentCsum).collect()
            var cursor = fileSystem.items(tree: TreeID.csum, type: ItemType.extentCsum).makeCursor(bufferSize: 64)
            var small: [TreeItem] = []
            while let item = try cursor.next() { small.append(item) }
            #expect(!normal.isEmpty)
            #expect(small.map(\.key) == normal.map(\.key))
            #expect(small.map(\.data) == normal.map(\.data))
        }
    }

    static func inode(_ path: String) throws -> UInt64 {
        var status = stat()
        guard stat(path, &status) == 0 else { throw HarnessError("stat \(path)") }
        return UInt64(status.st_ino)
    }
}

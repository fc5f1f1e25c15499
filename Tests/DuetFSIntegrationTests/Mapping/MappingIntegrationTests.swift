import DuetFS
import DuetTestSupport
import Foundation
import Testing

/// Small file helpers shared by the mapping, scanner and creditor integration tests.
enum MappingFiles {
    static func inode(_ path: String) throws -> UInt64 {
        var info = stat()
        guard stat(path, &info) == 0 else { throw HarnessError("stat \(path): \(String(cString: strerror(errno)))") }
        return UInt64(info.st_ino)
    }

    /// Overwrites `bytes` at `offset` and fsyncs.
    static func overwrite(_ path: String, at offset: Int, _ bytes: [UInt8]) throws {
        let fd = open(path, O_WRONLY)
        guard fd >= 0 else { throw HarnessError("open \(path): \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        let n = bytes.withUnsafeBytes { pwrite(fd, $0.baseAddress, $0.count, off_t(offset)) }
        guard n == bytes.count, fsync(fd) == 0 else { throw HarnessError("pwrite/fsync \(path): \(String(cString: strerror(errno)))") }
    }

    /// Reads `pages` of `path` one page at a time with readahead off (`POSIX_FADV_RANDOM`), so
    /// exactly those pages enter the page cache.
    static func readPages(_ path: String, _ pages: [Range<UInt64>]) throws {
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else { throw HarnessError("open \(path): \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        posix_fadvise(fd, 0, 0, POSIX_FADV_RANDOM)
        var buffer = [UInt8](repeating: 0, count: 4096)
        for range in pages {
            for page in range {
                let n = pread(fd, &buffer, 4096, off_t(page * 4096))
                guard n > 0 else { throw HarnessError("pread \(path) page \(page): \(String(cString: strerror(errno)))") }
            }
        }
    }

    static func readWhole(_ path: String) throws {
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else { throw HarnessError("open \(path): \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        var buffer = [UInt8](repeating: 0, count: 1 << 20)
        while read(fd, &buffer, buffer.count) > 0 {}
    }

    /// FIEMAP of `path` as logical byte ranges (data extents only), merged where contiguous.
    static func logicalRanges(_ path: String) throws -> [Range<UInt64>] {
        var out: [Range<UInt64>] = []
        for extent in try Fiemap.extents(ofFileAt: path) where !extent.isInline {
            let range = extent.logical..<(extent.logical + extent.length)
            if let last = out.last, last.upperBound == range.lowerBound {
                out[out.count - 1] = last.lowerBound..<range.upperBound
            } else {
                out.append(range)
            }
        }
        return out
    }
}

/// Parent of the mapping, scanner and creditor suites, so they run one at a time: they drop caches
/// machine-wide and count cached pages.
@Suite(.enabled(if: IntegrationGate.enabled), .serialized)
struct PageCacheIntegrationTests {}

extension PageCacheIntegrationTests {
    @Suite("File extent mapper and extent generations on real btrfs", .enabled(if: IntegrationGate.enabled), .serialized)
    struct MappingIntegrationTests {
        @Test("the mapper agrees with FIEMAP page by page, and a snapshot's file maps to the same logical bytes")
        func agreesWithFiemap() throws {
            try TestFileSystem.with { fs in
                try fs.createSubvolume("sv")
                let size = 3 << 20 + 1234
                try fs.writeFile("sv/data", size: size, seed: 3)
                try fs.sync()
                // Overwrite pieces so the file has several extents, one of them inside an older one.
                try MappingFiles.overwrite(fs.path("sv/data"), at: 1 << 20, TestData.bytes(count: 64 << 10, seed: 4))
                try MappingFiles.overwrite(fs.path("sv/data"), at: 2 << 20 + 8192, TestData.bytes(count: 12288, seed: 5))
                try fs.sync()
                try fs.snapshot("sv", as: "snap", readOnly: true)
                try fs.sync()

                let fileSystem = try fs.open()
                let mapper = try FileExtentMapper(fileSystem: fileSystem)
                let inode = try MappingFiles.inode(fs.path("sv/data"))
                let live = try Subvolumes.id(of: fs.path("sv"))
                let snap = try Subvolumes.id(of: fs.path("snap"))
                #expect(live != snap)
                let fiemap = try Fiemap.extents(ofFileAt: fs.path("sv/data"))
                #expect(fiemap.count >= 4)
                let pageCount = (UInt64(size) + 4095) / 4096
                for extent in fiemap {
                    for page in (extent.fileOffset / 4096)..<min((extent.fileOffset + extent.length) / 4096, pageCount) {
                        let expected = extent.logical + page * 4096 - extent.fileOffset
                        let expectedRanges: [Range<UInt64>] = [expected..<(expected + 4096)]
                        #expect(
                            mapper.logicalRanges(root: live, inode: inode, firstPage: page, pageCount: 1) == expectedRanges, "page \(page)")
                        #expect(
                            mapper.logicalRanges(root: snap, inode: inode, firstPage: page, pageCount: 1) == expectedRanges,
                            "snapshot page \(page)")
                    }
                }
                // The whole file at once: the FIEMAP ranges, merged.
                #expect(
                    mapper.logicalRanges(root: live, inode: inode, firstPage: 0, pageCount: pageCount)
                        == (try MappingFiles.logicalRanges(fs.path("sv/data"))))
                // One load per (root, inode); every later page was a cache hit.
                #expect(mapper.statistics.searches == 2)
                #expect(mapper.statistics.hits > 2 * pageCount - 2)
                // Pages past the end and unknown inodes have nothing.
                #expect(mapper.logicalRanges(root: live, inode: inode, firstPage: pageCount + 10, pageCount: 1) == nil)
                #expect(mapper.logicalRanges(root: live, inode: 999_999, firstPage: 0, pageCount: 1) == nil)
            }
        }

        @Test("a compressed file maps each page to its whole compressed disk extent, as the extent tree has it")
        func compressedWholeExtents() throws {
            try TestFileSystem.with(TestFileSystemOptions(mountOptions: ["compress-force=zstd"])) { fs in
                // Compressible: a short pattern repeated.
                let pattern = Array("duet opportunistic maintenance ".utf8)
                let bytes = (0..<(1 << 20)).map { pattern[$0 % pattern.count] }
                _ = FileManager.default.createFile(atPath: fs.path("zst"), contents: Data(bytes))
                try fs.sync()
                let fileSystem = try fs.open()
                let mapper = try FileExtentMapper(fileSystem: fileSystem)
                let lookup = try ExtentTreeGenerationLookup(fileSystem: fileSystem)
                let inode = try MappingFiles.inode(fs.path("zst"))
                let fiemap = try Fiemap.extents(ofFileAt: fs.path("zst"))
                #expect(fiemap.count == 8)  // 128 KiB of file per compressed extent
                for extent in fiemap {
                    #expect(extent.isEncoded)
                    let disk = try #require(try lookup.extent(containing: extent.logical))
                    #expect(disk.range.lowerBound == extent.logical)
                    #expect(disk.range.count < 131072)  // compressed
                    let firstPage = extent.fileOffset / 4096
                    for page in [firstPage, firstPage + 7, firstPage + 31] {
                        #expect(mapper.logicalRanges(root: 5, inode: inode, firstPage: page, pageCount: 1) == [disk.range])
                    }
                    let segments = try mapper.segments(root: 5, inode: inode, pages: firstPage..<(firstPage + 1)).segments
                    #expect(segments.first?.kind == .compressed)
                    #expect(segments.first?.itemPages == firstPage..<(firstPage + 32))
                }
                // A run across two compressed extents names both whole (merged where they touch on disk).
                let first = try #require(try lookup.extent(containing: fiemap[0].logical)).range
                let second = try #require(try lookup.extent(containing: fiemap[1].logical)).range
                #expect(
                    ExtentSet(mapper.logicalRanges(root: 5, inode: inode, firstPage: 0, pageCount: 33) ?? []) == ExtentSet([first, second]))
            }
        }

        @Test("extent generations come from the extent tree; a rewrite leaves the old address without that extent")
        func generationsAndRewrite() throws {
            try TestFileSystem.with { fs in
                try fs.writeFile("f", size: 1 << 20, seed: 9)
                try fs.sync()
                let fileSystem = try fs.open()
                let mapper = try FileExtentMapper(fileSystem: fileSystem)
                let lookup = try ExtentTreeGenerationLookup(fileSystem: fileSystem)
                let inode = try MappingFiles.inode(fs.path("f"))
                let before = try #require(try mapper.segments(root: 5, inode: inode, pages: 0..<256).segments.first)
                let old = try #require(before.logical)
                let extents = try lookup.extents(overlapping: old)
                #expect(extents.count == 1)
                #expect(extents.first?.generation == before.generation)
                // A range inside the extent, not at its start, still finds it (the backwards search).
                #expect(
                    try lookup.extents(overlapping: (old.lowerBound + 65536)..<(old.lowerBound + 69632)).first?.range
                        == extents.first?.range)

                try MappingFiles.overwrite(fs.path("f"), at: 0, TestData.bytes(count: 1 << 20, seed: 10))
                try fs.sync()
                mapper.invalidate(root: 5, inode: inode)
                let after = try #require(try mapper.segments(root: 5, inode: inode, pages: 0..<256).segments.first)
                #expect(after.logical != old)
                #expect(after.generation > before.generation)
                let now = try lookup.extents(overlapping: old)
                #expect(now.allSatisfy { $0.generation != before.generation || $0.range != extents.first?.range })
            }
        }

        @Test("btree inode pages map to node-size tree blocks that the extent tree knows as metadata items")
        func treeBlocks() throws {
            try TestFileSystem.with { fs in
                try fs.writeFile("f", size: 4096, seed: 1)
                try fs.sync()
                let fileSystem = try fs.open()
                let info = try fileSystem.info()
                let mapper = FileExtentMapper(fileSystem: fileSystem, nodeSize: UInt64(info.nodeSize))
                let lookup = ExtentTreeGenerationLookup(fileSystem: fileSystem, nodeSize: UInt64(info.nodeSize))
                let rootItem = try #require(
                    try fileSystem.items(tree: TreeID.root, type: ItemType.rootItem, objectIDs: 5...5).collect().first)
                let block = try RootItem(bytes: rootItem.data).bytenr
                let ranges = mapper.logicalRanges(root: 1, inode: CacheEvent.btreeInode, firstPage: block / 4096 + 2, pageCount: 1)
                #expect(ranges == [block..<(block + UInt64(info.nodeSize))])
                let extent = try #require(try lookup.extent(containing: block + 5000))
                #expect(extent.range == block..<(block + UInt64(info.nodeSize)))
                #expect(extent.generation <= info.generation)
            }
        }

        @Test("mapper cost: cache hits are sub-microsecond-ish, a miss is one tree search")
        func cost() throws {
            try TestFileSystem.with { fs in
                for i in 0..<200 { try fs.writeFile("d/f\(i)", size: 8192 * (1 + i % 5), seed: UInt64(i)) }
                try fs.sync()
                let fileSystem = try fs.open()
                let mapper = try FileExtentMapper(fileSystem: fileSystem)
                let inodes = try (0..<200).map { try MappingFiles.inode(fs.path("d/f\($0)")) }
                let t0 = DispatchTime.now().uptimeNanoseconds
                for inode in inodes { _ = mapper.logicalRanges(root: 5, inode: inode, firstPage: 0, pageCount: 1) }
                let t1 = DispatchTime.now().uptimeNanoseconds
                for _ in 0..<50 { for inode in inodes { _ = mapper.logicalRanges(root: 5, inode: inode, firstPage: 1, pageCount: 1) } }
                let t2 = DispatchTime.now().uptimeNanoseconds
                let miss = Double(t1 - t0) / 200 / 1000
                let hit = Double(t2 - t1) / 10_000 / 1000
                FileHandle.standardError.write(
                    Data("mapper cost: miss \(String(format: "%.1f", miss)) µs, hit \(String(format: "%.2f", hit)) µs\n".utf8))
                #expect(mapper.statistics.searches == 200)
                #expect(hit < miss)
            }
        }
    }
}

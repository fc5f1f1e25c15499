import DuetFS
import DuetScrub
import DuetTestSupport
import Foundation
import Testing

/// Injected corruption must be found on the right device, offset, mirror and file, agree with
/// the kernel scrub, and be repaired where a good mirror exists.
@Suite(.enabled(if: IntegrationGate.enabled), .serialized)
struct ScrubCorruptionTests {
    struct Case: Sendable, CustomStringConvertible {
        let name: String
        let devices: Int
        let data: Profile
        let metadata: Profile
        /// Which copy (0-based) to corrupt.
        let copy: Int
        let treeBlock: Bool
        var repairable: Bool { (treeBlock ? metadata : data).copies > 1 }
        var description: String { name }
    }

    static let cases = [
        Case(name: "single data sector", devices: 1, data: .single, metadata: .dup, copy: 0, treeBlock: false),
        Case(name: "DUP data, mirror 2", devices: 1, data: .dup, metadata: .dup, copy: 1, treeBlock: false),
        Case(name: "RAID1 data on two devices, mirror 1", devices: 2, data: .raid1, metadata: .raid1, copy: 0, treeBlock: false),
        Case(name: "tree block, DUP copy 2", devices: 1, data: .single, metadata: .dup, copy: 1, treeBlock: true)
    ]

    @Test("corruption is found, located, counted as the kernel counts it, and repaired", arguments: cases)
    func findsAndRepairs(_ configuration: Case) throws {
        let options = TestFileSystemOptions(
            deviceCount: configuration.devices, deviceSize: 400 << 20,
            dataProfile: configuration.data, metadataProfile: configuration.metadata)
        try TestFileSystem.with(options) { testFS in
            for index in 0..<4 { try testFS.writeFile("dir/file\(index)", size: 2 << 20, seed: UInt64(index + 1)) }
            try testFS.writeFile("dir/victim", size: 1 << 20, seed: 99)
            try testFS.sync()
            let fileSystem = try testFS.open()
            let map = try ChunkMap.load(from: fileSystem)
            let devices = Dictionary(uniqueKeysWithValues: try fileSystem.devices().map { ($0.id, $0.path) })

            let target: UInt64
            if configuration.treeBlock {
                // A leaf of the subvolume's own tree.
                var leaf: UInt64?
                try fileSystem.items(tree: TreeID.extent, type: ItemType.metadataItem).forEach { item in
                    let extent = try ExtentItem(key: item.key, bytes: item.data, nodeSize: 16384)
                    if leaf == nil, extent.level == 0, extent.backReferences.contains(.treeBlock(root: TreeID.fs)) { leaf = extent.bytenr }
                }
                target = try #require(leaf)
            } else {
                let extent = try #require(try Fiemap.extents(ofFileAt: testFS.path("dir/victim")).first)
                target = extent.logical + 5 * 4096
            }
            let copy = try map.map(target).copies[configuration.copy]
            let device = try #require(devices[copy.deviceID])
            try BlockDevice.corrupt(device, sectorAt: copy.physical, byteOffset: configuration.treeBlock ? 1000 : 100)
            try TestFileSystem.dropCaches()

            let state = ScrubRun.stateDirectory(testFS)
            let first = try ScrubRun.run("start", testFS, stateDirectory: state)
            #expect(first.status == 3, "\(first.errorOutput)")
            let record = try #require(first.record)
            #expect(record.findings.count == 1)
            let finding = try #require(record.findings.first)
            #expect(finding.deviceID == copy.deviceID)
            #expect(finding.devicePath == device)
            #expect(finding.physical == copy.physical)
            #expect(finding.logical == target)
            #expect(finding.mirror == copy.mirror)
            if configuration.treeBlock {
                #expect(finding.kind == .treeChecksum)
                #expect(finding.affected == ["tree block of tree 5, level 0"])
                #expect(record.counters.treeErrors == 4, "a 16 KiB block is four sectors")
            } else {
                #expect(finding.kind == .dataChecksum)
                #expect(finding.affected.contains { $0.hasPrefix("dir/victim") })
                #expect(record.counters.dataErrors == 1)
            }

            // The kernel scrub, read-only, sees the same error on the same file system.
            let kernel = try ScrubRun.kernel(testFS)
            let kernelErrors = (kernel["csum_errors"] ?? 0) + (kernel["verify_errors"] ?? 0) + (kernel["read_errors"] ?? 0)
            #expect(kernelErrors == record.counters.errors, "kernel: \(kernel)")
            #expect(kernel["data_bytes_scrubbed"] == record.counters.dataVerified)
            #expect(kernel["tree_bytes_scrubbed"] == record.counters.treeVerified)

            let repaired = try ScrubRun.run("start", testFS, stateDirectory: state, ["--repair"])
            let repairedRecord = try #require(repaired.record)
            if configuration.repairable {
                #expect(repaired.status == 4, "\(repaired.errorOutput)")
                #expect(repairedRecord.corrected == 1 && repairedRecord.uncorrectable == 0)
                #expect(repairedRecord.findings.first?.corrected == true)
                let after = try ScrubRun.kernel(testFS)
                #expect((after["csum_errors"] ?? 0) + (after["verify_errors"] ?? 0) == 0, "kernel after repair: \(after)")
                let clean = try ScrubRun.run("start", testFS, stateDirectory: state)
                #expect(clean.status == 0)
            } else {
                #expect(repaired.status == 3)
                #expect(repairedRecord.uncorrectable == 1)
            }
        }
    }
}

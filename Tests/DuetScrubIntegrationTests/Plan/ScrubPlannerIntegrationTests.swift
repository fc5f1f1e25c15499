import DuetFS
import DuetScrub
import DuetTestSupport
import Foundation
import Testing

/// The plan's generation bounds what is read: every extent it admits must already be on disk.
@Suite(.enabled(if: IntegrationGate.enabled), .serialized)
struct ScrubPlannerIntegrationTests {
    /// The generation in the primary superblock: the last one committed to disk.
    static func superblockGeneration(_ device: String) throws -> UInt64 {
        try Superblock(bytes: BlockDevice.read(device, offset: Superblock.copyOffsets[0], length: Superblock.size)).generation
    }

    @Test("commitGeneration commits the running transaction and names a generation on disk")
    func commitGenerationIsOnDisk() throws {
        // No periodic commit: the transaction the write starts stays open until we commit it.
        try TestFileSystem.with(.init(mountOptions: ["commit=300"])) { testFS in
            let fileSystem = try testFS.open()
            try fileSystem.sync()
            let before = try Self.superblockGeneration(testFS.devices[0])
            try testFS.writeFile("x", size: 4096)
            #expect(try fileSystem.info().generation > before, "the write did not start a transaction")
            #expect(try Self.superblockGeneration(testFS.devices[0]) == before, "something committed behind the test's back")
            let committed = try fileSystem.commitGeneration()
            #expect(committed > before)
            #expect(try Self.superblockGeneration(testFS.devices[0]) >= committed)
        }
    }

    @Test("with a writer starting transactions all the time, the plan never admits an uncommitted one")
    func planGenerationIsCommittedUnderWriters() throws {
        try TestFileSystem.with(.init(mountOptions: ["commit=300"])) { testFS in
            try testFS.writeFile("seed", size: 1 << 20)
            let writer = Process()
            writer.executableURL = URL(fileURLWithPath: "/bin/bash")
            writer.arguments = [
                "-c", "cd '\(testFS.mountPoint)'; i=0; while [ ! -e '\(testFS.directory)/stop' ]; do : > f$((i++ % 500)); done"
            ]
            try writer.run()
            defer {
                FileManager.default.createFile(atPath: testFS.directory + "/stop", contents: nil)
                writer.waitUntilExit()
            }
            let fileSystem = try testFS.open()
            for round in 0..<20 {
                let plan = try ScrubPlanner(fileSystem: fileSystem).plan()
                let onDisk = try Self.superblockGeneration(testFS.devices[0])
                #expect(plan.generation <= onDisk, "round \(round): planned at \(plan.generation), disk holds \(onDisk)")
            }
            #expect(writer.isRunning, "the writer must be busy throughout")
        }
    }
}

import DuetFS
import DuetScrub
import DuetTestSupport
import Foundation
import Testing

/// The confirmation of a real mismatch: a copy still bad persists, and a re-read the device
/// cannot serve is `unreadable` (a read error), never cleared. A device that fails reads only on
/// the second look needs device-mapper or a fault injector, which this kernel lacks; a device too
/// short for the address fails the re-read as a real block device does.
@Suite(.enabled(if: IntegrationGate.enabled), .serialized)
struct ConfirmerIntegrationTests {
    @Test("a corrupt sector persists on confirmation; a re-read the device fails is unreadable")
    func confirmsOrReportsUnreadable() throws {
        try TestFileSystem.with(.init(deviceSize: 300 << 20, dataProfile: .single, metadataProfile: .dup)) { testFS in
            try testFS.writeFile("victim", size: 1 << 20, seed: 7)
            try testFS.sync()
            let fileSystem = try testFS.open()
            let info = try fileSystem.info()
            let planner = try ScrubPlanner(fileSystem: fileSystem)
            let plan = try planner.plan()
            let target = try #require(try Fiemap.extents(ofFileAt: testFS.path("victim")).first).logical + 3 * 4096
            var found: ScrubPiece?
            for work in plan.devices.flatMap(\.extents) where found == nil {
                found = try planner.pieces(in: work, generation: plan.generation).first {
                    $0.kind == .data && $0.logical <= target && target < $0.logical + $0.length
                }
            }
            let piece = try #require(found)
            let physical = piece.physical + (target - piece.logical)
            try BlockDevice.corrupt(testFS.devices[0], sectorAt: physical)
            try TestFileSystem.dropCaches()

            let confirmer = Confirmer(fileSystem: fileSystem, info: info)
            let still = confirmer.confirmDataSector(
                piece, logical: target, physical: physical,
                reader: try DeviceReader(path: testFS.devices[0]))
            guard case .persists(.dataChecksum, _) = still else {
                Issue.record("expected the corrupt sector to persist, got \(still)")
                return
            }

            let image = testFS.directory + "/short.img"
            #expect(FileManager.default.createFile(atPath: image, contents: Data(count: 1 << 20)))
            let short = try Command.run(["losetup", "--find", "--show", image]).trimmingCharacters(in: .whitespacesAndNewlines)
            // A defer cannot throw; a failed detach leaves a 1 MiB loop device on a removed file.
            defer { _ = try? Command.run(["losetup", "-d", short]) }
            let unreadable = confirmer.confirmDataSector(piece, logical: target, physical: physical, reader: try DeviceReader(path: short))
            guard case .unreadable = unreadable else {
                Issue.record("expected a failed re-read to be unreadable, got \(unreadable)")
                return
            }
            let (finding, counters) = unreadable.verdict(firstSeen: .dataChecksum, "data checksum mismatch", sectors: 1)
            #expect(finding?.kind == .read)
            #expect(counters.readErrors == 1 && counters.unconfirmed == 0)
        }
    }
}

import DuetFS
import DuetTestSupport
import Foundation
import Testing

@Suite(.enabled(if: IntegrationGate.enabled), .serialized)
struct InfoCommandTests {
    struct Envelope: Decodable {
        let version: Int
        let command: String
        let result: FileSystemReport
    }

    @Test("duet info --json on a 4-device RAID1 file system reports its profiles and devices")
    func raid1FourDevices() throws {
        let options = TestFileSystemOptions(
            deviceCount: 4, deviceSize: 300 << 20, checksum: .xxhash64,
            dataProfile: .raid1, metadataProfile: .raid1)
        try TestFileSystem.with(options) { testFS in
            try testFS.createSubvolume("sv")
            try testFS.writeFile("sv/data", size: 5 << 20)
            try testFS.snapshot("sv", as: "sv.snap")
            try testFS.sync()
            let result = try DuetBinary.run(["info", "--json", testFS.mountPoint])
            #expect(result.status == 0, "\(result.errorOutput)")
            let envelope = try JSONDecoder().decode(Envelope.self, from: Data(result.output.utf8))
            #expect(envelope.version == 2)
            #expect(envelope.command == "info")
            let report = envelope.result
            #expect(report.checksum == "xxhash64")
            #expect(report.devices.map(\.path).sorted() == testFS.devices.sorted())
            #expect(report.devices.map(\.id) == [1, 2, 3, 4])
            #expect(report.devices.allSatisfy { $0.sizeBytes == 300 << 20 })
            #expect(report.devices.filter { $0.usedBytes > 0 }.count >= 2, "RAID1 puts each chunk on two devices")
            let profiles = Dictionary(uniqueKeysWithValues: report.allocations.map { ($0.type, $0.profile) })
            #expect(profiles == ["Data": "raid1", "Metadata": "raid1", "System": "raid1"])
            let data = try #require(report.allocations.first { $0.type == "Data" })
            #expect(data.usedBytes >= 5 << 20)
            // Cross-check against btrfs-progs.
            let usage = try Command.run(["btrfs", "filesystem", "df", "-b", testFS.mountPoint])
            #expect(usage.contains("Data, RAID1: total=\(data.totalBytes), used=\(data.usedBytes)"))
            let uuid = try Command.run(["findmnt", "-n", "-o", "UUID", testFS.mountPoint]).trimmingCharacters(in: .whitespacesAndNewlines)
            #expect(report.uuid == uuid)
            #expect(report.mountPath == testFS.mountPoint)
            #expect(report.subvolumes.map(\.path) == ["sv", "sv.snap"])
            #expect(report.subvolumes.map(\.readOnly) == [false, true])
            #expect(report.subvolumes[1].parentUUID == report.subvolumes[0].uuid)

            let human = try DuetBinary.run(["info", testFS.mountPoint])
            #expect(human.status == 0)
            #expect(human.output.contains("Data:") && human.output.contains("raid1"))
            #expect(human.output.contains("Subvolume 257:"))
        }
    }

    @Test("bad targets: one clear line and exit 1")
    func badTargets() throws {
        let missing = try DuetBinary.run(["info", "/nonexistent/duet-\(getpid())"])
        #expect(missing.status == 1)
        #expect(missing.errorOutput.contains("does not exist"))
        #expect(missing.errorOutput.split(separator: "\n").count == 1)

        let notBtrfs = try DuetBinary.run(["info", "/proc"])
        #expect(notBtrfs.status == 1)
        #expect(notBtrfs.errorOutput.contains("not on a btrfs file system"))

        let usage = try DuetBinary.run(["info"])
        #expect(usage.status == 1)

        try TestFileSystem.with { testFS in
            let unprivileged = try DuetBinary.run(["info", testFS.mountPoint], asUser: "65534")
            #expect(unprivileged.status == 1)
            #expect(unprivileged.errorOutput.contains("needs root"))
            #expect(unprivileged.errorOutput.split(separator: "\n").count == 1)
        }
    }
}

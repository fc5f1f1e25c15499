import DuetFS
import DuetTestSupport
import Foundation
import Testing

/// Every data sector, read from the device and hashed by Duet, must equal the csum tree's item,
/// for each checksum algorithm btrfs offers.
@Suite(.enabled(if: IntegrationGate.enabled), .serialized)
struct ChecksumIntegrationTests {
    @Test("device sectors hash to the csum tree's checksums", arguments: ChecksumType.allCases)
    func everySectorMatches(_ type: ChecksumType) throws {
        try TestFileSystem.with(.init(checksum: type)) { testFS in
            try testFS.writeFile("a", size: 3 << 20, seed: 7)
            try testFS.writeFile("dir/b", size: 1 << 20 + 12345, seed: 8)
            try testFS.writeFile("c", size: 200_000, seed: 9)
            try testFS.sync()
            let fileSystem = try testFS.open()
            let info = try fileSystem.info()
            #expect(info.checksumType == type)
            let map = try ChunkMap.load(from: fileSystem)
            let devices = Dictionary(uniqueKeysWithValues: try fileSystem.devices().map { ($0.id, $0.path) })
            let hasher = Checksummer(type)
            let sector = Int(info.sectorSize)
            var verified = 0
            var mismatches: [UInt64] = []
            try fileSystem.items(tree: TreeID.csum, type: ItemType.extentCsum).forEach { item in
                let csums = try CsumItem(key: item.key, bytes: item.data, checksumSize: type.size)
                for index in 0..<csums.sectorCount {
                    let logical = csums.logical + UInt64(index * sector)
                    let copy = try map.map(logical).copies[0]
                    let bytes = try BlockDevice.read(devices[copy.deviceID]!, offset: copy.physical, length: sector)
                    let expected = Array(csums.checksum(ofSector: index))
                    if hasher.digest(bytes) != expected { mismatches.append(logical) }
                    verified += 1
                }
            }
            // 3 MiB + 1 MiB+12345 + 200000 bytes of data, each sector checksummed once.
            let expectedSectors = (3 << 20) / sector + ((1 << 20) + 12345 + sector - 1) / sector + (200_000 + sector - 1) / sector
            #expect(verified == expectedSectors)
            #expect(mismatches.isEmpty)
        }
    }
}

import DuetFS
import DuetTestSupport
import Foundation
import Testing

/// The chunk map must place every copy where btrfs-progs says it is.
@Suite(.enabled(if: IntegrationGate.enabled), .serialized)
struct ChunkMapIntegrationTests {
    struct Case: Sendable, CustomStringConvertible {
        let devices: Int
        let data: Profile
        let metadata: Profile
        var description: String { "\(devices) device(s), data \(data.name), metadata \(metadata.name)" }
    }

    static let cases = [
        Case(devices: 1, data: .single, metadata: .single),
        Case(devices: 1, data: .dup, metadata: .dup),
        Case(devices: 2, data: .raid1, metadata: .raid1),
        Case(devices: 4, data: .raid10, metadata: .raid10)
    ]

    @Test("chunk map agrees with btrfs-map-logical and dump-tree", arguments: cases)
    func agreesWithProgs(_ configuration: Case) throws {
        let options = TestFileSystemOptions(
            deviceCount: configuration.devices, deviceSize: 320 << 20,
            dataProfile: configuration.data, metadataProfile: configuration.metadata)
        try TestFileSystem.with(options) { testFS in
            for index in 0..<6 { try testFS.writeFile("file\(index)", size: 3 << 20, seed: UInt64(index + 1)) }
            try testFS.sync()
            let fileSystem = try testFS.open()
            let map = try ChunkMap.load(from: fileSystem)
            let devicePaths = Dictionary(uniqueKeysWithValues: try fileSystem.devices().map { ($0.id, $0.path) })

            // Chunk items as dump-tree prints them: logical, length, type, stripes.
            let dumped = try ProgsOutput.chunks(device: testFS.devices[0])
            #expect(dumped.count == map.chunks.count)
            for (ours, theirs) in zip(map.chunks, dumped) {
                #expect(ours.logical == theirs.logical)
                #expect(ours.length == theirs.length)
                #expect(ours.flags.profile == theirs.profile)
                #expect(ours.stripes.map { [$0.deviceID, $0.offset] } == theirs.stripes)
            }

            // btrfs-map-logical only maps allocated extents: probe file data at several offsets
            // (crossing stripe elements) and tree blocks from the extent tree.
            var probes: [UInt64] = []
            for index in 0..<6 {
                for extent in try Fiemap.extents(ofFileAt: testFS.path("file\(index)")) {
                    for step in stride(from: UInt64(0), to: extent.length, by: 61_440 * 3) {
                        probes.append(extent.logical + step / 4096 * 4096)
                    }
                }
            }
            try fileSystem.items(tree: TreeID.extent, type: ItemType.metadataItem).forEach { probes.append($0.key.objectID) }
            for logical in probes {
                let mapping = try map.map(logical)
                let expected = try ProgsOutput.mapLogical(logical, device: testFS.devices[0])
                let ours = mapping.copies.map {
                    ProgsOutput.Copy(mirror: $0.mirror, physical: $0.physical, device: devicePaths[$0.deviceID] ?? "?")
                }
                #expect(ours == expected, "logical \(logical)")
            }
        }
    }
}

/// Parses what btrfs-progs prints, so the expected values never come from Duet's own code.
enum ProgsOutput {
    struct Copy: Equatable, CustomStringConvertible {
        let mirror: Int
        let physical: UInt64
        let device: String
        var description: String { "mirror \(mirror) physical \(physical) \(device)" }
    }

    struct Chunk {
        let logical: UInt64
        let length: UInt64
        let profile: Profile
        let stripes: [[UInt64]]
    }

    /// `btrfs-map-logical -l L -b 4096`: one line per copy.
    static func mapLogical(_ logical: UInt64, device: String) throws -> [Copy] {
        let output = try Command.run(["btrfs-map-logical", "-l", "\(logical)", "-b", "4096", device])
        return output.split(separator: "\n").compactMap { line in
            let words = line.split(separator: " ").map(String.init)
            guard words.count >= 8, words[0] == "mirror", let mirror = Int(words[1]), words[2] == "logical",
                UInt64(words[3]) == logical, let physical = UInt64(words[5])
            else { return nil }
            return Copy(mirror: mirror, physical: physical, device: words[7])
        }
    }

    /// `btrfs inspect-internal dump-tree -t chunk`.
    static func chunks(device: String) throws -> [Chunk] {
        let output = try Command.run(["btrfs", "inspect-internal", "dump-tree", "-t", "chunk", device])
        var chunks: [Chunk] = []
        var current: (logical: UInt64, length: UInt64, profile: Profile, stripes: [[UInt64]])?
        func finish() {
            if let chunk = current {
                chunks.append(Chunk(logical: chunk.logical, length: chunk.length, profile: chunk.profile, stripes: chunk.stripes))
            }
            current = nil
        }
        for line in output.split(separator: "\n") {
            let words = line.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
            if line.contains("CHUNK_ITEM") {
                finish()
                let logical = UInt64(
                    words[words.firstIndex(of: "CHUNK_ITEM")! + 1].trimmingCharacters(in: CharacterSet(charactersIn: ")")))!
                current = (logical, 0, .single, [])
            } else if line.contains("DEV_ITEM") {
                finish()
            } else if words.first == "length", current != nil {
                current!.length = UInt64(words[1])!
                let type = words[words.firstIndex(of: "type")! + 1].lowercased()
                let profile = type.split(separator: "|").dropFirst().first.map(String.init) ?? "single"
                current!.profile = Profile(rawValue: profile) ?? .single
            } else if words.first == "stripe", current != nil, let devid = UInt64(words[3]), let offset = UInt64(words[5]) {
                current!.stripes.append([devid, offset])
            }
        }
        finish()
        return chunks.sorted { $0.logical < $1.logical }
    }
}

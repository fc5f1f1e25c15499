import DuetFS
import DuetSend
import DuetTestSupport
import Foundation
import Testing

extension SendIntegrationTests {
    /// Random histories sent by `duet send` and received by stock `btrfs receive` must give the
    /// snapshot's tree, and the same tree the kernel's own `btrfs send` gives through the same
    /// receiver: full send plus three incremental sends, protocol v1 and v2.
    @Suite struct SendRoundTripTests {
        static let seeds: [UInt64] = [1, 2, 3, 4]

        @Test(arguments: seeds)
        func randomHistoryReceivesIdenticallyToKernelSend(seed: UInt64) throws {
            try Self.roundTrip(seed: seed, snapshots: 4, operationsPerStep: 25)
        }

        /// The long-running variant for `scripts/send-soak`: seeds from `DUET_SEND_SOAK_SEEDS`
        /// (`first-last`), longer histories, every variant; disabled otherwise.
        @Test(.enabled(if: ProcessInfo.processInfo.environment["DUET_SEND_SOAK_SEEDS"] != nil))
        func soak() throws {
            let spec = ProcessInfo.processInfo.environment["DUET_SEND_SOAK_SEEDS"] ?? ""
            let bounds = spec.split(separator: "-").compactMap { UInt64($0) }
            let seeds = bounds.count == 2 ? Array(bounds[0]...bounds[1]) : bounds
            let snapshots = Int(ProcessInfo.processInfo.environment["DUET_SEND_SOAK_SNAPSHOTS"] ?? "") ?? 6
            let operations = Int(ProcessInfo.processInfo.environment["DUET_SEND_SOAK_OPERATIONS"] ?? "") ?? 60
            for seed in seeds {
                let compressed = seed % 3 == 0
                let started = Date()
                do {
                    try Self.roundTrip(
                        seed: seed, snapshots: snapshots, operationsPerStep: operations,
                        mountOptions: compressed ? ["compress-force=zstd"] : [],
                        variants: compressed ? [(1, false), (2, false), (2, true)] : [(1, false), (2, false)])
                    print("send-soak: seed \(seed)\(compressed ? " (zstd)" : "") passed in \(Int(Date().timeIntervalSince(started))) s")
                } catch {
                    print("send-soak: seed \(seed) FAILED: \(error)")
                    throw error
                }
            }
        }

        /// zstd-compressed extents, sent decompressed (v1, v2) and as ENCODED_WRITE (v2 --compressed-data).
        @Test(arguments: [UInt64(5)])
        func compressedRandomHistoryReceivesIdenticallyToKernelSend(seed: UInt64) throws {
            try Self.roundTrip(
                seed: seed, snapshots: 4, operationsPerStep: 20, mountOptions: ["compress-force=zstd"],
                variants: [(1, false), (2, false), (2, true)])
        }

        /// Shared with `scripts/send-soak` (seeds from `DUET_SEND_SOAK_SEEDS`).
        static func roundTrip(
            seed: UInt64, snapshots count: Int, operationsPerStep: Int, mountOptions: [String] = [],
            variants: [(UInt32, Bool)] = [(1, false), (2, false)]
        ) throws {
            try TestFileSystem.with(TestFileSystemOptions(deviceSize: 1 << 30, mountOptions: mountOptions)) { source in
                try TestFileSystem.with { duetTarget in
                    try TestFileSystem.with { kernelTarget in
                        try source.createSubvolume("live")
                        var history = RandomHistory(root: source.path("live"), seed: seed)
                        var snapshots: [String] = []
                        for index in 0..<count {
                            try history.step(count: index == 0 ? operationsPerStep * 2 : operationsPerStep)
                            try source.snapshot("live", as: "s\(index)")
                            snapshots.append("s\(index)")
                        }
                        let streams = duetTarget.directory + "/streams"
                        try FileManager.default.createDirectory(atPath: streams, withIntermediateDirectories: true)
                        for (proto, compressed) in variants {
                            for (index, name) in snapshots.enumerated() {
                                let parent = index > 0 ? source.path(snapshots[index - 1]) : nil
                                let what =
                                    "seed \(seed) proto \(proto)\(compressed ? " compressed-data" : "") \(name)"
                                    + (parent == nil ? " (full)" : " (incremental)")
                                let duetFile = "\(streams)/duet-\(proto)-\(compressed)-\(name)"
                                let kernelFile = "\(streams)/kernel-\(proto)-\(compressed)-\(name)"
                                try SendHarness.duetSend(
                                    source.path(name), parent: parent, proto: proto, to: duetFile, compressedData: compressed)
                                try SendHarness.kernelSend(
                                    source.path(name), parent: parent, proto: proto, to: kernelFile, compressedData: compressed)
                                if compressed && parent == nil {
                                    let ours = try SendHarness.count(.encodedWrite, in: duetFile)
                                    let kernels = try SendHarness.count(.encodedWrite, in: kernelFile)
                                    #expect(ours > 0 && ours <= kernels, "\(what): \(ours) ENCODED_WRITE, the kernel sent \(kernels)")
                                }
                                do {
                                    try SendHarness.receive(duetFile, into: duetTarget.mountPoint)
                                } catch {
                                    throw HarnessFailure(
                                        "\(what): receive of duet's stream failed: \(error)\nhistory:\n"
                                            + history.log.joined(separator: "\n"))
                                }
                                try SendHarness.receive(kernelFile, into: kernelTarget.mountPoint)
                                let expected = try TreeManifest(root: source.path(name))
                                let duet = try TreeManifest(root: duetTarget.path(name))
                                let kernel = try TreeManifest(root: kernelTarget.path(name))
                                // The snapshot's holes become zeros in incremental sends, for the kernel too.
                                try SendHarness.requireSame(
                                    duet, expected, ignoring: parent == nil ? [] : ["dataMap"], "\(what): duet-received tree vs snapshot")
                                try SendHarness.requireSame(duet, kernel, "\(what): duet-received tree vs kernel-received tree")
                            }
                            try SendHarness.deleteSubvolumes(snapshots.map { duetTarget.path($0) })
                            try SendHarness.deleteSubvolumes(snapshots.map { kernelTarget.path($0) })
                        }
                    }
                }
            }
        }
    }
}

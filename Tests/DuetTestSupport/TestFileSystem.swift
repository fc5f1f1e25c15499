import DuetFS
import Foundation

/// What file system to make: size, checksum, profiles and device count.
public struct TestFileSystemOptions: Sendable {
    public var deviceCount = 1
    /// Size of each device image.
    public var deviceSize: UInt64 = 512 << 20
    public var checksum: ChecksumType = .crc32c
    /// `mkfs.btrfs -d` and `-m` profiles; nil leaves mkfs's default.
    public var dataProfile: Profile?
    public var metadataProfile: Profile?
    public var mountOptions: [String] = []
    /// Extra `mkfs.btrfs` arguments (features, node size).
    public var mkfsArguments: [String] = []

    public init(
        deviceCount: Int = 1, deviceSize: UInt64 = 512 << 20, checksum: ChecksumType = .crc32c,
        dataProfile: Profile? = nil, metadataProfile: Profile? = nil, mountOptions: [String] = [],
        mkfsArguments: [String] = []
    ) {
        self.deviceCount = deviceCount
        self.deviceSize = deviceSize
        self.checksum = checksum
        self.dataProfile = dataProfile
        self.metadataProfile = metadataProfile
        self.mountOptions = mountOptions
        self.mkfsArguments = mkfsArguments
    }
}

/// A btrfs file system on loop devices over image files in a unique temporary directory,
/// mounted there. `teardown()` unmounts, detaches every loop device and deletes the images;
/// `TestFileSystem.with` calls it on every exit path. What a crashed test process left behind
/// is recorded in the directory and swept by the next harness run (`ResourceJanitor`).
public final class TestFileSystem: @unchecked Sendable {
    public let options: TestFileSystemOptions
    public let directory: String
    public let mountPoint: String
    public private(set) var devices: [String] = []
    public private(set) var images: [String] = []
    private var mounted = false
    private let journal: ResourceJournal

    /// Makes, mounts and hands the file system to `body`, and always tears it down.
    public static func with<T>(_ options: TestFileSystemOptions = .init(), _ body: (TestFileSystem) throws -> T) throws -> T {
        let fileSystem = try TestFileSystem(options)
        defer { fileSystem.teardown() }
        return try body(fileSystem)
    }

    public static func with<T>(_ options: TestFileSystemOptions = .init(), _ body: (TestFileSystem) async throws -> T) async throws -> T {
        let fileSystem = try TestFileSystem(options)
        defer { fileSystem.teardown() }
        return try await body(fileSystem)
    }

    public init(_ options: TestFileSystemOptions = .init()) throws {
        if let obstacle = IntegrationGate.obstacle {
            throw HarnessError("cannot create a test btrfs: \(obstacle)")
        }
        ResourceJanitor.sweepOnce()
        self.options = options
        directory = try ResourceJanitor.makeDirectory()
        mountPoint = directory + "/mnt"
        journal = ResourceJournal(directory: directory)
        // Ledgers a test does not place with --state-dir (duet send credits its reads by default)
        // land inside this directory, removed with it, never in the machine's /var/lib/duet.
        setenv("DUET_STATE_ROOT", directory + "/state-root", 1)
        do {
            try setUp()
        } catch {
            teardown()
            throw error
        }
    }

    private func setUp() throws {
        try FileManager.default.createDirectory(atPath: mountPoint, withIntermediateDirectories: false)
        for index in 0..<options.deviceCount {
            let image = "\(directory)/device\(index).img"
            guard FileManager.default.createFile(atPath: image, contents: nil),
                truncate(image, off_t(options.deviceSize)) == 0
            else {
                throw HarnessError("cannot create image \(image)")
            }
            images.append(image)
            // losetup -f finds a free device at the moment of attaching: never a fixed /dev/loopN.
            let device = try Command.run(["losetup", "--find", "--show", image]).trimmingCharacters(in: .whitespacesAndNewlines)
            devices.append(device)
            try journal.record(loop: device)
        }
        var mkfs = ["mkfs.btrfs", "-f", "-q", "--csum", options.checksum.mkfsName]
        if let data = options.dataProfile { mkfs += ["-d", data.name] }
        if let metadata = options.metadataProfile { mkfs += ["-m", metadata.name] }
        mkfs += options.mkfsArguments + devices
        try Command.run(mkfs)
        var mountOptions = devices.map { "device=\($0)" } + options.mountOptions
        if mountOptions.isEmpty { mountOptions = ["defaults"] }
        try journal.record(mount: mountPoint)
        try Command.run(["mount", "-t", "btrfs", "-o", mountOptions.joined(separator: ","), devices[0], mountPoint])
        mounted = true
    }

    /// Unmounts, detaches the loop devices and deletes the directory. Safe to call twice.
    public func teardown() {
        if mounted || ResourceJanitor.isMounted(mountPoint) {
            ResourceJanitor.unmount(mountPoint)
            mounted = false
        }
        for device in devices { ResourceJanitor.detach(device, ifBackedUnder: directory) }
        devices = []
        try? FileManager.default.removeItem(atPath: directory)
    }

    /// An open `DuetFS.FileSystem` on the mount point.
    public func open() throws -> FileSystem { try FileSystem(path: mountPoint) }

    public func path(_ relative: String) -> String { mountPoint + "/" + relative }

    // MARK: Populating

    /// Writes `size` bytes of deterministic, incompressible data derived from `seed`.
    @discardableResult
    public func writeFile(_ relative: String, size: Int, seed: UInt64 = 1) throws -> [UInt8] {
        let full = path(relative)
        try FileManager.default.createDirectory(atPath: (full as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        let bytes = TestData.bytes(count: size, seed: seed)
        guard FileManager.default.createFile(atPath: full, contents: Data(bytes)) else {
            throw HarnessError("cannot write \(full)")
        }
        return bytes
    }

    public func createSubvolume(_ relative: String) throws {
        try Command.run(["btrfs", "-q", "subvolume", "create", path(relative)])
    }

    public func snapshot(_ source: String, as relative: String, readOnly: Bool = true) throws {
        try Command.run(["btrfs", "-q", "subvolume", "snapshot"] + (readOnly ? ["-r"] : []) + [path(source), path(relative)])
    }

    /// Commits the file system, so trees and devices agree.
    public func sync() throws { try Command.run(["btrfs", "-q", "filesystem", "sync", mountPoint]) }

    /// Syncs, then drops clean page-cache pages and slab objects machine-wide.
    public static func dropCaches() throws {
        Foundation.sync()
        try "3".write(toFile: "/proc/sys/vm/drop_caches", atomically: false, encoding: .utf8)
    }
}

public struct HarnessError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// Deterministic pseudo-random bytes (xorshift64*), different for every seed.
public enum TestData {
    public static func bytes(count: Int, seed: UInt64) -> [UInt8] {
        var state = seed &* 0x9E37_79B9_7F4A_7C15 | 1
        var out = [UInt8](repeating: 0, count: count)
        out.withUnsafeMutableBytes { raw in
            var index = 0
            while index < count {
                state ^= state >> 12
                state ^= state << 25
                state ^= state >> 27
                var word = (state &* 0x2545_F491_4F6C_DD1D).littleEndian
                let take = min(8, count - index)
                withUnsafeBytes(of: &word) { raw.baseAddress!.advanced(by: index).copyMemory(from: $0.baseAddress!, byteCount: take) }
                index += take
            }
        }
        return out
    }
}

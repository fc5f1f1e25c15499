import DuetTestSupport
import Foundation
import Testing

/// The harness must never leave a mount or a loop device behind, even after a crash.
@Suite(.enabled(if: IntegrationGate.enabled), .serialized)
struct HarnessTests {
    struct Thrown: Error {}

    @Test("teardown releases the mount, every loop device and the images, also when the body throws")
    func teardownOnThrow() throws {
        var devices: [String] = []
        var directory = ""
        #expect(throws: Thrown.self) {
            try TestFileSystem.with(.init(deviceCount: 2, deviceSize: 256 << 20, dataProfile: .raid1, metadataProfile: .raid1)) { testFS in
                devices = testFS.devices
                directory = testFS.directory
                #expect(Self.mounts().contains(testFS.mountPoint))
                throw Thrown()
            }
        }
        #expect(devices.count == 2)
        #expect(!Self.mounts().contains(directory + "/mnt"))
        #expect(!FileManager.default.fileExists(atPath: directory))
        let attached = try Command.run(["losetup", "--list", "--noheadings", "--output", "BACK-FILE"])
        #expect(!attached.contains(directory))
    }

    @Test("resources left by a dead test process are swept by the next run")
    func sweepsAbandoned() throws {
        let testFS = try TestFileSystem(.init())
        // Pretend the owner died: record a pid that has exited.
        let child = Process()
        child.executableURL = URL(fileURLWithPath: "/bin/true")
        try child.run()
        child.waitUntilExit()
        try "\(child.processIdentifier)\n".write(toFile: testFS.directory + "/owner", atomically: true, encoding: .utf8)
        #expect(Self.mounts().contains(testFS.mountPoint))

        ResourceJanitor.sweepAbandoned()

        #expect(!Self.mounts().contains(testFS.mountPoint))
        #expect(!FileManager.default.fileExists(atPath: testFS.directory))
        let attached = try Command.run(["losetup", "--list", "--noheadings", "--output", "BACK-FILE"])
        #expect(!attached.contains(testFS.directory))
        testFS.teardown()
    }

    static func mounts() -> String { (try? String(contentsOfFile: "/proc/mounts", encoding: .utf8)) ?? "" }
}

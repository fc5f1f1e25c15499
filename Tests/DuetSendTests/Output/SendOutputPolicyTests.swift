import DuetSend
import Foundation
import Glibc
import Testing

/// `SendOutput` on an ordinary directory (no btrfs needed): which targets get a temporary file,
/// what commit and abandon do to it, and that nothing else is ever removed.
@Suite struct SendOutputPolicyTests {
    static func withDirectory(_ body: (String) throws -> Void) throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("duet-send-output-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: false)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try body(directory)
    }

    static func write(_ output: SendOutput, _ text: String) {
        _ = Array(text.utf8).withUnsafeBytes { Glibc.write(output.descriptor, $0.baseAddress, $0.count) }
    }

    static func contents(_ path: String) throws -> String { try String(contentsOfFile: path, encoding: .utf8) }

    @Test func aNewFileAppearsOnlyOnCommit() throws {
        try Self.withDirectory { directory in
            let target = directory + "/stream"
            let output = try SendOutput.file(target)
            guard case .replacing(let final, let temporary) = output.kind else {
                Issue.record("a missing file must be written under a temporary name: \(output.kind)")
                return
            }
            #expect(final == target)
            #expect(URL(fileURLWithPath: temporary).lastPathComponent.hasPrefix(".stream.duet-"))
            #expect(URL(fileURLWithPath: temporary).deletingLastPathComponent().path == directory)
            Self.write(output, "complete")
            #expect(!FileManager.default.fileExists(atPath: target))
            try output.commit()
            #expect(try Self.contents(target) == "complete")
            #expect(try FileManager.default.contentsOfDirectory(atPath: directory) == ["stream"])
        }
    }

    @Test func abandonRemovesOnlyTheTemporaryFileAndKeepsTheOldOne() throws {
        try Self.withDirectory { directory in
            let target = directory + "/stream"
            try "old".write(toFile: target, atomically: false, encoding: .utf8)
            chmod(target, 0o640)
            let output = try SendOutput.file(target)
            Self.write(output, "partial")
            output.abandon()
            output.abandon()  // twice is harmless
            #expect(try Self.contents(target) == "old")
            #expect(try FileManager.default.contentsOfDirectory(atPath: directory) == ["stream"])
            // A later successful send keeps the old file's mode.
            let second = try SendOutput.file(target)
            Self.write(second, "new")
            try second.commit()
            #expect(try Self.contents(target) == "new")
            #expect((try FileManager.default.attributesOfItem(atPath: target)[.posixPermissions] as? Int) == 0o640)
        }
    }

    @Test func aSymbolicLinkIsFollowedNotReplaced() throws {
        try Self.withDirectory { directory in
            let real = directory + "/real"
            let link = directory + "/link"
            try "old".write(toFile: real, atomically: false, encoding: .utf8)
            try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: real)
            let output = try SendOutput.file(link)
            Self.write(output, "new")
            try output.commit()
            #expect(try FileManager.default.destinationOfSymbolicLink(atPath: link) == real)
            #expect(try Self.contents(real) == "new")
        }
    }

    @Test func aFIFOIsWrittenInPlaceAndStaysAFIFO() throws {
        try Self.withDirectory { directory in
            let fifo = directory + "/fifo"
            #expect(mkfifo(fifo, 0o600) == 0)
            let copy = directory + "/copy"
            let reader = Process()
            reader.executableURL = URL(fileURLWithPath: "/bin/sh")
            reader.arguments = ["-c", "cat \"$0\" > \"$1\"", fifo, copy]
            try reader.run()
            let output = try SendOutput.file(fifo)
            #expect(output.kind == .inPlace(path: fifo))
            Self.write(output, "through the fifo")
            output.abandon()  // a failure: cut, never removed
            reader.waitUntilExit()
            var status = stat()
            #expect(lstat(fifo, &status) == 0 && status.st_mode & S_IFMT == S_IFIFO)
            let received = try [UInt8](Data(contentsOf: URL(fileURLWithPath: copy)))
            #expect(received == Array("through the fifo".utf8) + SendSession.cutMarker)
        }
    }

    @Test func aMissingDirectoryIsReportedAsBtrfsSendReportsIt() throws {
        try Self.withDirectory { directory in
            let failure = #expect(throws: SendOutput.OpenFailure.self) { try SendOutput.file(directory + "/no/stream") }
            #expect(failure?.description == "cannot create '\(directory)/no/stream': No such file or directory")
        }
    }
}

import Foundation

/// Another process that keeps a device busy for the `--idle` tests: it reads a file over and over
/// with O_DIRECT (device I/O that brings nothing into the page cache), for at most `seconds`.
/// It stops when a file appears, not on a signal: a child of the test process may inherit
/// signals blocked (SIGTERM to `timeout` went unanswered until its time ran out).
/// `init` returns once the first 8 MiB have been read from the device, so the device is busy.
public final class BusyReader {
    private let process = Process()
    private let stopFile: String
    private let readingFile: String

    public init(file: String, seconds: Int) throws {
        let base = NSTemporaryDirectory() + "/duet-busy-reader-\(getpid())-\(UUID().uuidString)"
        stopFile = base
        readingFile = base + ".reading"
        process.executableURL = URL(fileURLWithPath: "/bin/sh")
        process.arguments = [
            "-c",
            """
            end=$(( $(date +%s) + \(seconds) ))
            while [ ! -e '\(stopFile)' ] && [ "$(date +%s)" -lt "$end" ]; do
              dd if='\(file)' of=/dev/null bs=1M count=8 iflag=direct status=none
              [ -e '\(readingFile)' ] || : > '\(readingFile)'
            done
            """
        ]
        try process.run()
        try Eventually.wait(what: "the busy reader to read its first 8 MiB of \(file)") {
            FileManager.default.fileExists(atPath: readingFile) || !process.isRunning
        }
        if !FileManager.default.fileExists(atPath: readingFile) {
            throw HarnessError("the busy reader of \(file) exited before reading it (status \(process.terminationStatus))")
        }
    }

    deinit { stop() }

    public var isRunning: Bool { process.isRunning }

    public func stop() {
        FileManager.default.createFile(atPath: stopFile, contents: nil)
        process.waitUntilExit()
        try? FileManager.default.removeItem(atPath: stopFile)
        try? FileManager.default.removeItem(atPath: readingFile)
    }
}

import Foundation

/// Runs external programs (mkfs.btrfs, losetup, mount, btrfs) for the test harness.
public enum Command {
    public struct Failure: Error, CustomStringConvertible {
        public let arguments: [String]
        public let status: Int32
        public let output: String
        public let errorOutput: String
        public var description: String {
            "`\(arguments.joined(separator: " "))` exited \(status): \(errorOutput.isEmpty ? output : errorOutput)"
        }
    }

    public struct Result: Sendable {
        public let status: Int32
        public let output: String
        public let errorOutput: String
    }

    /// Runs `arguments` (the first is looked up in PATH) and returns its status and output.
    @discardableResult
    public static func execute(_ arguments: [String], input: Data? = nil, environment: [String: String]? = nil) throws -> Result {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = arguments
        if let environment {
            process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        }
        let output = Pipe()
        let errorOutput = Pipe()
        process.standardOutput = output
        process.standardError = errorOutput
        let inputPipe = Pipe()
        process.standardInput = input == nil ? FileHandle.nullDevice : inputPipe
        try process.run()
        if let input {
            inputPipe.fileHandleForWriting.write(input)
            try? inputPipe.fileHandleForWriting.close()
        }
        // Drain both pipes concurrently so a chatty child never blocks on a full pipe.
        let errorData = LockedBox(Data())
        let group = DispatchGroup()
        group.enter()
        DispatchQueue.global().async {
            errorData.value = errorOutput.fileHandleForReading.readDataToEndOfFile()
            group.leave()
        }
        let outputData = output.fileHandleForReading.readDataToEndOfFile()
        group.wait()
        process.waitUntilExit()
        return Result(
            status: process.terminationStatus,
            output: String(decoding: outputData, as: UTF8.self),
            errorOutput: String(decoding: errorData.value, as: UTF8.self))
    }

    /// Runs `arguments` and throws unless it exits 0; returns standard output.
    @discardableResult
    public static func run(_ arguments: [String], input: Data? = nil) throws -> String {
        let result = try execute(arguments, input: input)
        guard result.status == 0 else {
            throw Failure(arguments: arguments, status: result.status, output: result.output, errorOutput: result.errorOutput)
        }
        return result.output
    }
}

/// A mutable value shared with a background closure, guarded by a lock.
final class LockedBox<Value>: @unchecked Sendable {
    private let lock = NSLock()
    private var stored: Value
    init(_ value: Value) { stored = value }
    var value: Value {
        get { lock.lock(); defer { lock.unlock() }; return stored }
        set { lock.lock(); stored = newValue; lock.unlock() }
    }
}

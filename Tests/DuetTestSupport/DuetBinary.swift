import Foundation

/// The `duet` executable SwiftPM built next to the test bundle, run as a user would run it.
public enum DuetBinary {
    public static var path: String {
        var directory = URL(fileURLWithPath: Bundle.main.bundlePath)
        if !directory.hasDirectoryPath || directory.pathExtension == "xctest" { directory.deleteLastPathComponent() }
        return directory.appendingPathComponent("duet").path
    }

    /// Runs `duet arguments…`; `asUser` drops to that user first (for the not-root checks).
    public static func run(_ arguments: [String], asUser user: String? = nil) throws -> Command.Result {
        var command = [path] + arguments
        if let user { command = ["setpriv", "--reuid=\(user)", "--regid=\(user)", "--clear-groups", "--"] + command }
        return try Command.execute(command)
    }
}

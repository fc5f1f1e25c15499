import DuetFS
import DuetScrub
import DuetTestSupport
import Foundation

/// Runs `duet scrub` as a user would and reads its JSON.
enum ScrubRun {
    struct Envelope: Decodable {
        let version: Int
        let command: String
        let result: ScrubRecord
    }

    struct Outcome {
        let status: Int32
        let record: ScrubRecord?
        let errorOutput: String
    }

    static func run(_ subcommand: String, _ testFS: TestFileSystem, stateDirectory: String, _ extra: [String] = []) throws -> Outcome {
        let result = try DuetBinary.run(["scrub", subcommand, "--json", "--state-dir", stateDirectory] + extra + [testFS.mountPoint])
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        let record = try? decoder.decode(Envelope.self, from: Data(result.output.utf8)).result
        return Outcome(status: result.status, record: record, errorOutput: result.errorOutput)
    }

    /// `btrfs scrub start -B -R` (read-only unless `repair`): the kernel's error counters.
    static func kernel(_ testFS: TestFileSystem, repair: Bool = false) throws -> [String: UInt64] {
        let output = try Command.execute(["btrfs", "scrub", "start", "-B", "-R"] + (repair ? [] : ["-r"]) + [testFS.mountPoint]).output
        var values: [String: UInt64] = [:]
        for line in output.split(separator: "\n") {
            let parts = line.split(separator: ":").map { $0.trimmingCharacters(in: .whitespaces) }
            if parts.count == 2, let value = UInt64(parts[1]) { values[parts[0], default: 0] += value }
        }
        return values
    }

    static func stateDirectory(_ testFS: TestFileSystem) -> String { testFS.directory + "/state" }
}

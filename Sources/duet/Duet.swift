import ArgumentParser
import DuetFS
import Foundation

@main
struct Duet: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "duet",
        abstract: "Opportunistic btrfs maintenance: scrub and send that reuse what the page cache already holds.",
        discussion: """
            Maintenance reads most of the disk, yet much of what it needs passes through the page cache \
            because applications read it. duet watch keeps a ledger of the ranges that btrfs verified while \
            reading them from disk; duet scrub skips those and reads the rest in on-disk order; duet send \
            writes an ordinary btrfs send stream, taking data from the page cache first. State lives in \
            /var/lib/duet/<uuid>/. Commands that touch a file system need root.
            """,
        version: DuetVersion.current,
        subcommands: [InfoCommand.self, ScrubCommand.self, SendCommand.self, WatchCommand.self, StatusCommand.self, DebugCommand.self]
    )

    /// Parses and runs, mapping every failure to the exit codes of DESIGN §5: a failure to
    /// run at all (bad input included) is 1, with one clear line on stderr.
    static func main() {
        DuetLogging.bootstrap()
        do {
            var command = try parseAsRoot()
            try command.run()
        } catch let error as DuetError {
            Terminal.fail(error.message)
        } catch let code as ExitCode {
            Foundation.exit(code.rawValue)
        } catch {
            let code = exitCode(for: error)
            if code == .success {
                print(fullMessage(for: error))
                Foundation.exit(0)
            }
            FileHandle.standardError.write(Data(JournalStream.errorLine(fullMessage(for: error)).utf8))
            Foundation.exit(ExitStatus.couldNotRun.rawValue)
        }
    }
}

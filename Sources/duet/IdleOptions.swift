import ArgumentParser
import Foundation

/// How a task that can wait for idle devices words `--idle` and `--deadline`: the options mean
/// the same for every task, the help says what that task does while it waits.
protocol IdleWaitingTask {
    /// "scrub", "send": in "without it the … never waits".
    static var noun: String { get }
    static var idleHelp: String { get }
    /// Typical deadlines for the task, for the help of `--deadline`.
    static var deadlineExamples: String { get }
}

/// `--idle` and `--deadline`, declared and checked once for every task that takes them.
struct IdleOptions<Task: IdleWaitingTask>: ParsableArguments {
    @Flag(help: ArgumentHelp(Task.idleHelp))
    var idle = false

    @Option(
        help: ArgumentHelp(
            "With --idle: finish within this time (e.g. \(Task.deadlineExamples)): stop waiting for idle devices once the rest would not fit otherwise."
        ))
    var deadline: TimeSpan?

    func validate() throws {
        if let deadline {
            guard deadline.seconds != nil else {
                throw ValidationError("--deadline \(deadline.text): give seconds or a number with s, m, h or d")
            }
            guard idle else { throw ValidationError("--deadline applies to --idle: without it the \(Task.noun) never waits") }
        }
    }

    /// When the task must be done, counted from `now`.
    func deadline(from now: Date) -> Date? {
        deadline?.seconds.map { now.addingTimeInterval(TimeInterval($0)) }
    }
}

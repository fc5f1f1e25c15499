import DuetFS
import Glibc

/// One `duet send`'s output from the moment it is opened until the stream is committed, with
/// `SendOutput`'s rule applied at every way out: never an output that looks complete unless it
/// is. A refusal before the stream leaves the output empty (as `btrfs send` leaves it); a failed
/// stream is abandoned (the temporary file removed, a stream written in place cut once it has
/// begun); SIGINT, SIGTERM and SIGHUP abandon it too, at once, whatever the send is doing.
public final class SendOutputGuard: Sendable {
    /// The signals that end a send as a failure would: a terminal's ^C, `kill`, a closed session.
    public static let signals: [Int32] = [SIGINT, SIGTERM, SIGHUP]

    public let output: SendOutput
    private let interrupted: @Sendable () -> Void
    private let trap: SignalTrap

    /// Opens `-f path` (standard output without one) and traps `signals` from then on: a signal
    /// abandons the output, keeping its descriptor so that the send's next write cannot land in
    /// a file opened meanwhile, then calls `interrupted`, which should end the process.
    public init(file path: String?, interrupted: @escaping @Sendable () -> Void) throws(SendOutput.OpenFailure) {
        let output = try path.map { path throws(SendOutput.OpenFailure) in try SendOutput.file(path) } ?? .standardOutput()
        self.output = output
        self.interrupted = interrupted
        trap = SignalTrap(Self.signals) { Self.signalled(output, interrupted) }
    }

    /// What a trapped signal does (the test's way in: a test process cannot direct a signal at
    /// the thread that traps it).
    func signalled() { Self.signalled(output, interrupted) }

    private static func signalled(_ output: SendOutput, _ interrupted: @Sendable () -> Void) {
        output.abandon(beforeExit: true)
        interrupted()
    }

    public var descriptor: Int32 { output.descriptor }

    /// The send is refused before any of its stream was written.
    public func refuse() {
        output.abandon(cut: false)
    }

    /// Writes the stream with `write` and commits it; when `write` or the commit fails, abandons
    /// the output (cut only if `streamStarted` says a stream began) and rethrows.
    public func write(streamStarted: () -> Bool, _ write: () throws -> Void) throws {
        do {
            try write()
            try output.commit()
        } catch {
            output.abandon(cut: streamStarted())
            throw error
        }
    }

    /// Runs `session`, which writes to `descriptor`, and commits its stream.
    public func send(_ session: SendSession) throws {
        try write(streamStarted: { session.streamStarted }) { try session.run() }
    }

    /// Gives the signals back their default action: the stream is committed or abandoned.
    public func release() {
        trap.release()
    }
}

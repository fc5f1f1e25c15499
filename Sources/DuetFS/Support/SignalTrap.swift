import Dispatch
import Glibc

/// Turns signals into a call on a dispatch queue, where any code may run (a signal handler may
/// not): a foreground scrub saves its progress and exits 5, a send removes its unfinished output.
public final class SignalTrap: @unchecked Sendable {
    // @unchecked: `sources` is filled in `init` and only read after, by `release`.
    private var sources: [DispatchSourceSignal] = []
    private let signals: [Int32]

    public init(_ signals: [Int32], handler: @escaping @Sendable () -> Void) {
        self.signals = signals
        // A parent may hand down a mask that blocks these (test runners do): unblock them here.
        var set = sigset_t()
        sigemptyset(&set)
        for number in signals { sigaddset(&set, number) }
        pthread_sigmask(SIG_UNBLOCK, &set, nil)
        for number in signals {
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler(handler: handler)
            source.resume()
            sources.append(source)
        }
    }

    /// Gives the signals back their default action.
    public func release() {
        for source in sources { source.cancel() }
        for number in signals { signal(number, SIG_DFL) }
    }
}

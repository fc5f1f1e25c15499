import Foundation

/// Threads of our own for blocking `pread`s. Dispatch's global queue sizes its pool to the CPUs
/// (two here), so reads queued there ran two at a time, each followed by its verification on the
/// same thread, and the device saw a shallow queue. Here every read has a thread while it waits on
/// the device, and verification goes to the global queue, so reading and hashing overlap.
final class ReaderThreads: @unchecked Sendable {
    private let condition = NSCondition()
    private var work: [@Sendable () -> Void] = []
    private var stopping = false
    private var running = 0

    init(count: Int, name: String) {
        for index in 0..<max(1, count) {
            let thread = Thread { [self] in loop() }
            thread.name = "\(name)-\(index)"
            thread.start()
        }
    }

    func submit(_ item: @escaping @Sendable () -> Void) {
        condition.lock()
        work.append(item)
        condition.signal()
        condition.unlock()
    }

    /// Lets the threads finish what was submitted, then end. Call once, after the last submit.
    func stop() {
        condition.lock()
        stopping = true
        condition.broadcast()
        condition.unlock()
    }

    private func loop() {
        while true {
            condition.lock()
            while work.isEmpty && !stopping { condition.wait() }
            if work.isEmpty {
                condition.unlock()
                return
            }
            let item = work.removeFirst()
            condition.unlock()
            item()
        }
    }
}

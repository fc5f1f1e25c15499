import Foundation
import Synchronization

/// Threads of our own for blocking `pread`s. Dispatch's global queue sizes its pool to the CPUs
/// (two here), so reads queued there ran two at a time, each followed by its verification on the
/// same thread, and the device saw a shallow queue. Here every read has a thread while it waits on
/// the device, and verification goes to the global queue, so reading and hashing overlap.
final class ReaderThreads: Sendable {
    private let queue = Mutex<(work: [@Sendable () -> Void], stopping: Bool)>(([], false))
    /// Signalled once per submitted item, and once per thread on `stop`: a thread that wakes to
    /// an empty queue ends.
    private let ready = DispatchSemaphore(value: 0)
    private let count: Int

    init(count: Int, name: String) {
        self.count = max(1, count)
        for index in 0..<self.count {
            let thread = Thread { [self] in loop() }
            thread.name = "\(name)-\(index)"
            thread.start()
        }
    }

    func submit(_ item: @escaping @Sendable () -> Void) {
        queue.withLock { $0.work.append(item) }
        ready.signal()
    }

    /// Lets the threads finish what was submitted, then end. Call after the last submit; a
    /// second call does nothing.
    func stop() {
        let first = queue.withLock { queue in
            defer { queue.stopping = true }
            return !queue.stopping
        }
        guard first else { return }
        for _ in 0..<count { ready.signal() }
    }

    private func loop() {
        while true {
            ready.wait()
            // Every item's signal is sent after the item is queued, so a wake before `stop` always
            // finds one.
            let item = queue.withLock { queue -> (@Sendable () -> Void)? in
                queue.work.isEmpty ? nil : queue.work.removeFirst()
            }
            guard let item else { return }
            item()
        }
    }
}

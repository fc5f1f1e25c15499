import DuetFS
import Foundation

/// One device extent made ready to read: the pieces left to verify after the ledger's credits at
/// preparation time, the bytes those credits skipped, and the checksums of the remaining data.
struct PreparedExtent: Sendable {
    let pieces: [ScrubPiece]
    let skipped: UInt64
    let csums: CsumLookup?
    /// Bytes of the extent's pieces at or after the resume cursor: what reads and skips must cover.
    let plannedBytes: UInt64
}

/// Prepares the next device extent on its own thread while the current one is read. Preparing
/// walks the extent and csum trees, whose blocks live on the same devices: done in line, those
/// reads queued behind the scrub's own and nothing else was in flight meanwhile, a stall at every
/// device extent (about 50 ms each on a loop device, a tenth of the scrub's time).
final class PreparationAhead: @unchecked Sendable {
    // @unchecked: `result` is written by the thread before `done` is signalled, read after `wait`.
    private let done = DispatchSemaphore(value: 0)
    private var result: Result<PreparedExtent, Error>?

    init(_ prepare: @escaping @Sendable () throws -> PreparedExtent) {
        let thread = Thread { [self] in
            result = Result { try prepare() }
            done.signal()
        }
        thread.name = "duet-scrub-plan"
        thread.start()
    }

    /// Waits for the preparation to finish; call once.
    func wait() -> Result<PreparedExtent, Error> {
        done.wait()
        return result ?? .failure(DuetError.malformed("device extent preparation produced nothing"))
    }
}

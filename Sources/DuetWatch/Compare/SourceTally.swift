import DuetFS
import Synchronization

/// One source's counts over the comparison workload (`duet debug compare-sources --json`:
/// `kernel` and `ebpf`).
public struct SourceCounts: Codable, Sendable, Equatable {
    public var added: UInt64 = 0
    public var removed: UInt64 = 0
    /// Pages of inodes outside the workload (all kinds).
    public var otherPages: UInt64 = 0
    public var events: UInt64 = 0
    public var lost: UInt64 = 0
    /// (root, inode) pairs of workload files with events, "root:inode".
    public var files: Set<String> = []

    public init() {}
}

/// Counts one source's events: pages of the workload's files by kind, the rest apart.
final class SourceTally: Sendable {
    private let counts = Mutex(SourceCounts())
    private let keys: Set<String>
    private let inodes: Set<UInt64>

    init(keys: Set<String>, inodes: Set<UInt64>) {
        self.keys = keys
        self.inodes = inodes
    }

    var current: SourceCounts { counts.withLock { $0 } }

    func ingest(_ events: [CacheEvent]) {
        counts.withLock { counts in
            counts.events += UInt64(events.count)
            for event in events {
                guard inodes.contains(event.inode), event.inode != CacheEvent.btreeInode else {
                    counts.otherPages += event.pageCount
                    continue
                }
                let key = "\(event.root):\(event.inode)"
                counts.files.insert(keys.contains(key) ? key : "unexpected " + key)
                switch event.kind {
                case .added: counts.added += event.pageCount
                case .removed: counts.removed += event.pageCount
                default: break
                }
            }
        }
    }
}

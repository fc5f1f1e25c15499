@testable import DuetFS

/// Shorthands for hub tests: one file system on device 42, subvolume 256, file 257.
enum HubFixture {
    static let device: UInt32 = 42
    static let root: UInt64 = 256
    static let inode: UInt64 = 257

    static func event(
        _ kind: CacheEvent.Kind, page: UInt64, count: UInt64 = 1, root: UInt64 = root,
        inode: UInt64 = inode, device: UInt32 = device
    ) -> CacheEvent {
        CacheEvent(kind: kind, device: device, root: root, inode: inode, firstPage: page, pageCount: count)
    }

    static func register(
        _ hub: Hub, model: HubModel = .eventBased, keySpace: HubKeySpace = .pages,
        eventMask: CacheEventKinds = .all, options: HubTaskOptions = HubTaskOptions()
    ) -> HubTask {
        hub.register(
            scope: .fileSystem(device: device), model: model, keySpace: keySpace,
            eventMask: eventMask, options: options)
    }
}

/// A mapper double: file `inode` of any root lies contiguously at `bases[inode]`, page p at
/// `base + p * pageSize`; files not listed have no mapping (like holes or inline data).
struct ContiguousMapper: PageToLogicalMapper {
    var bases: [UInt64: UInt64]

    func logicalRanges(root: UInt64, inode: UInt64, firstPage: UInt64, pageCount: UInt64) -> [Range<UInt64>]? {
        guard let base = bases[inode] else { return nil }
        return [base + firstPage * pageSize..<base + (firstPage + pageCount) * pageSize]
    }
}

/// A scanner double that fails, to check that a failed scan leaves no task behind.
struct FailingScanner: CachedPageScanner {
    struct Failure: Error {}
    func scanCachedPages(in scope: HubScope, deliver: ([CacheEvent]) -> Void) throws { throw Failure() }
}

import CDuet
import Glibc

/// One item returned by `BTRFS_IOC_TREE_SEARCH_V2`: its key, the transid of the leaf that
/// holds it, and the item's bytes.
public struct TreeItem: Sendable {
    public var key: BtrfsKey
    public var transid: UInt64
    public var data: [UInt8]
}

/// A cursor over `BTRFS_IOC_TREE_SEARCH_V2` results for a key range of one tree.
///
/// The kernel treats the range as compound keys `(min objectid, min type, min offset)` to
/// `(max …)`, so items of other types between the bounds come back too: `types` filters them
/// here. Each call continues from the key after the last one returned (offset, then type, then
/// objectid carry), and a buffer too small for one item (`EOVERFLOW`) is grown and retried.
public struct TreeSearch: Sendable {
    public let tree: UInt64
    public let range: ClosedRange<BtrfsKey>
    public let types: Set<UInt8>?

    let descriptor: Int32
    let subject: String

    init(descriptor: Int32, subject: String, tree: UInt64, range: ClosedRange<BtrfsKey>, types: Set<UInt8>?) {
        self.descriptor = descriptor
        self.subject = subject
        self.tree = tree
        self.range = range
        self.types = types
    }

    public func makeCursor(bufferSize: Int = 64 * 1024) -> Cursor {
        Cursor(search: self, bufferSize: bufferSize)
    }

    /// Every matching item, in key order.
    public func collect() throws -> [TreeItem] {
        var cursor = makeCursor()
        var items: [TreeItem] = []
        while let item = try cursor.next() { items.append(item) }
        return items
    }

    public func forEach(_ body: (TreeItem) throws -> Void) throws {
        var cursor = makeCursor()
        while let item = try cursor.next() { try body(item) }
    }

    public struct Cursor {
        let search: TreeSearch
        var bufferSize: Int
        var nextKey: BtrfsKey?
        var pending: [TreeItem] = []
        var pendingIndex = 0
        /// How many ioctl calls this cursor made; tests use it to check continuation happened.
        public private(set) var calls = 0

        init(search: TreeSearch, bufferSize: Int) {
            self.search = search
            self.bufferSize = bufferSize
            nextKey = search.range.lowerBound
        }

        public mutating func next() throws -> TreeItem? {
            while true {
                if pendingIndex < pending.count {
                    let item = pending[pendingIndex]
                    pendingIndex += 1
                    if let types = search.types, !types.contains(item.key.type) { continue }
                    return item
                }
                guard let start = nextKey, start <= search.range.upperBound else { return nil }
                pending = try fetch(from: start)
                pendingIndex = 0
                if pending.isEmpty {
                    nextKey = nil
                    return nil
                }
                nextKey = pending[pending.count - 1].key.successor
            }
        }

        private mutating func fetch(from start: BtrfsKey) throws -> [TreeItem] {
            let headerSize = MemoryLayout<btrfs_ioctl_search_args_v2>.size
            while true {
                calls += 1
                let total = headerSize + bufferSize
                let buffer = UnsafeMutableRawPointer.allocate(byteCount: total, alignment: 8)
                defer { buffer.deallocate() }
                let args = buffer.bindMemory(to: btrfs_ioctl_search_args_v2.self, capacity: 1)
                args.pointee = btrfs_ioctl_search_args_v2()
                let end = search.range.upperBound
                args.pointee.key.tree_id = search.tree
                args.pointee.key.min_objectid = start.objectID
                args.pointee.key.min_type = UInt32(start.type)
                args.pointee.key.min_offset = start.offset
                args.pointee.key.max_objectid = end.objectID
                args.pointee.key.max_type = UInt32(end.type)
                args.pointee.key.max_offset = end.offset
                args.pointee.key.min_transid = 0
                args.pointee.key.max_transid = .max
                args.pointee.key.nr_items = .max
                args.pointee.buf_size = UInt64(bufferSize)
                if duet_ioctl(search.descriptor, duet_ioc_tree_search_v2(), buffer) != 0 {
                    let code = errno
                    if code == EOVERFLOW {
                        // buf_size now holds what the item needs; never shrink, at least double.
                        bufferSize = max(bufferSize * 2, Int(args.pointee.buf_size))
                        continue
                    }
                    throw DuetError.system("BTRFS_IOC_TREE_SEARCH_V2 (tree \(search.tree))", search.subject, errno: code)
                }
                return try decode(
                    buffer: UnsafeRawBufferPointer(start: buffer + headerSize, count: bufferSize),
                    count: Int(args.pointee.key.nr_items))
            }
        }

        private func decode(buffer: UnsafeRawBufferPointer, count: Int) throws -> [TreeItem] {
            var items: [TreeItem] = []
            items.reserveCapacity(count)
            var at = 0
            let headerSize = MemoryLayout<btrfs_ioctl_search_header>.size
            for _ in 0..<count {
                guard at + headerSize <= buffer.count else {
                    throw DuetError.malformed("tree search of tree \(search.tree): result header past the buffer")
                }
                let header = buffer.loadUnaligned(fromByteOffset: at, as: btrfs_ioctl_search_header.self)
                at += headerSize
                let length = Int(header.len)
                guard at + length <= buffer.count else {
                    throw DuetError.malformed("tree search of tree \(search.tree): item of \(length) bytes past the buffer")
                }
                let key = BtrfsKey(header.objectid, UInt8(truncatingIfNeeded: header.type), header.offset)
                items.append(TreeItem(key: key, transid: header.transid, data: Array(buffer[at..<(at + length)])))
                at += length
            }
            return items
        }
    }
}

/// The plan's data ranges with their final paths, spilled like `CommandList`: a million-file
/// snapshot has a million of them, and as `DataRange` values each path is a heap array.
/// Record: le64 offset, le64 length, le32 path length, the path.
public struct DataRangeList: Sequence, Sendable, Equatable {
    private var spool: CommandSpool?
    private var end: UInt64 = 0
    public private(set) var count = 0
    /// The path bytes of all ranges.
    public private(set) var pathBytes = 0

    public init() {}

    public init(_ ranges: some Sequence<StreamPlan.DataRange>) {
        for range in ranges { append(range) }
    }

    public var isEmpty: Bool { count == 0 }
    public var underestimatedCount: Int { count }

    /// Appends a range; lists are built once, by one owner (no copy appends after another).
    public mutating func append(_ range: StreamPlan.DataRange) {
        if spool == nil { spool = CommandSpool() }
        precondition(spool!.length == end, "a DataRangeList is appended to by one copy only")
        var record: [UInt8] = []
        record.reserveCapacity(20 + range.path.bytes.count)
        withUnsafeBytes(of: range.offset.littleEndian) { record += $0 }
        withUnsafeBytes(of: range.length.littleEndian) { record += $0 }
        withUnsafeBytes(of: UInt32(range.path.bytes.count).littleEndian) { record += $0 }
        record += range.path.bytes
        spool!.append(record)
        end += UInt64(record.count)
        count += 1
        pathBytes += range.path.bytes.count
    }

    public func makeIterator() -> Iterator { Iterator(spool: spool, end: end) }

    public struct Iterator: IteratorProtocol {
        let spool: CommandSpool?
        let end: UInt64
        var offset: UInt64 = 0
        var window: [UInt8] = []
        var windowStart: UInt64 = 0

        public mutating func next() -> StreamPlan.DataRange? {
            guard offset < end, let spool else { return nil }
            let at = Int(offset - windowStart)
            if at + 20 > window.count
                || at + 20 + Int(CommandList.get(UInt32.self, window[(at + 16)..<(at + 20)])) > window.count
            {
                window = spool.read(at: offset, count: Int(Swift.min(1 << 20, end - offset)))
                windowStart = offset
            }
            var start = Int(offset - windowStart)
            let pathLength = Int(CommandList.get(UInt32.self, window[(start + 16)..<(start + 20)]))
            if start + 20 + pathLength > window.count {
                window = spool.read(at: offset, count: 20 + pathLength)
                windowStart = offset
                start = 0
            }
            let range = StreamPlan.DataRange(
                path: SendPath(bytes: Array(window[(start + 20)..<(start + 20 + pathLength)])),
                offset: CommandList.get(UInt64.self, window[start..<(start + 8)]),
                length: CommandList.get(UInt64.self, window[(start + 8)..<(start + 16)]))
            offset += UInt64(20 + pathLength)
            return range
        }
    }

    public static func == (lhs: DataRangeList, rhs: DataRangeList) -> Bool {
        lhs.count == rhs.count && lhs.elementsEqual(rhs)
    }
}

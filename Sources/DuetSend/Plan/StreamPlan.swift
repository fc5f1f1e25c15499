/// The kernel's `NO_FILE_DATA` stream taken apart into the four sections `duet send` emits
/// (DESIGN §3): metadata in kernel order, data, clones, deferred attributes. Every moved
/// command's path is rewritten to the path its file has at the end of the stream.
public struct StreamPlan: Sendable {
    /// One `UPDATE_EXTENT`: file data that belongs at `path` (final), `offset`, `length`.
    public struct DataRange: Sendable, Hashable {
        public var path: SendPath
        public var offset: UInt64
        public var length: UInt64

        public init(path: SendPath, offset: UInt64, length: UInt64) {
            self.path = path
            self.offset = offset
            self.length = length
        }
    }

    /// SUBVOL/SNAPSHOT first, then every other metadata command in kernel order, unchanged.
    public private(set) var metadata = CommandList()
    public private(set) var data: [DataRange] = []

    /// The data ranges, leaving none: once planned into pieces they are not needed again, and a
    /// million-file stream has a million of them.
    public mutating func takeData() -> [DataRange] {
        defer { data = [] }
        return data
    }
    /// Data and FALLOCATE commands of files the kernel punched holes in (v2), in kernel order,
    /// paths final: emitted before `data`, one after the other.
    public private(set) var ordered: [OrderedItem] = []

    public enum OrderedItem: Sendable, Hashable {
        case data(DataRange)
        case command(SendCommand)
    }
    /// CLONE commands in kernel order, target (and in-snapshot source) paths made final.
    public private(set) var clones: [SendCommand] = []
    /// chown, chmod, utimes and `set_xattr security.capability` in kernel order, paths final.
    public private(set) var deferred = CommandList()
    /// The UUID of the subvolume the stream creates.
    public private(set) var subvolumeUUID: SendUUID?
    public private(set) var isIncremental = false

    /// The xattr whose setting must follow chown and every write (both clear it on the receiver).
    public static let capabilityXattr: [UInt8] = Array("security.capability".utf8)

    /// Whether `command` moves to the deferred section.
    public static func isDeferred(_ command: SendCommand) -> Bool {
        switch command.type {
        case .chown, .chmod, .utimes: return true
        case .setXattr: return command.attribute(.xattrName)?.value == capabilityXattr
        default: return false
        }
    }

    /// Splits one stream (up to its END) and resolves every moved command's path.
    ///
    /// - Parameter unresolved: asked for the final path of a pre-existing file whose every name
    ///   the stream removed (it can survive under a hard link the stream never mentioned); the
    ///   session looks the inode up in the snapshot. Nil means: it is gone.
    public static func build(_ commands: [SendCommand],
                             unresolved: (UInt64?) throws -> SendPath? = { _ in nil }) throws -> StreamPlan {
        var iterator = commands.makeIterator()
        return try build(next: { iterator.next() }, unresolved: unresolved)
    }

    /// The same, reading the commands one at a time from `next` (nil: the stream ended), so
    /// the whole stream is never held as commands: a million-file stream is mostly commands.
    public static func build(next: () throws -> SendCommand?,
                             unresolved: (UInt64?) throws -> SendPath? = { _ in nil }) throws -> StreamPlan {
        var plan = StreamPlan()
        var tracker = PathTracker()
        // Per data range: its object, offset, length, command index (structs of integers).
        var pendingData: [(ObjectID, UInt64, UInt64, Int)] = []
        var pendingClones: [(SendCommand, ObjectID, ObjectID?, Int)] = []
        var pendingDeferred = CommandList()
        var pendingDeferredIDs: [(ObjectID, Int)] = []
        var pendingFallocates: [(SendCommand, ObjectID, Int)] = []
        var pendingTruncates: [(Int, ObjectID, Int)] = []
        var index = -1
        while let command = try next() {
            index += 1
            switch command.type {
            case .end:
                break
            case .updateExtent:
                guard let id = try tracker.handle(command) else { continue }
                pendingData.append((id, try command.u64(.fileOffset), try command.u64(.size), index))
            case .clone:
                var source: ObjectID?
                if let uuid = try? command.uuid(.cloneUUID), uuid == tracker.subvolumeUUID {
                    source = try tracker.objectID(for: try command.path(.clonePath))
                }
                guard let id = try tracker.handle(command) else { continue }
                pendingClones.append((command, id, source, index))
            case .fallocate:
                // The kernel's v2 holes. Punching and writing the same file do not commute (a punch
                // stops at the current end of file; a write past it zeroes the old last block), so
                // a file with FALLOCATE keeps its data and FALLOCATEs in kernel order, after all
                // metadata like other data.
                guard let id = try tracker.handle(command) else { continue }
                pendingFallocates.append((command, id, index))
            case .truncate:
                // Kept in place unless its file is one with FALLOCATE (see below).
                guard let id = try tracker.handle(command) else { continue }
                pendingTruncates.append((plan.metadata.count, id, index))
                plan.metadata.append(command)
            default:
                if isDeferred(command) {
                    guard let id = try tracker.handle(command) else { continue }
                    pendingDeferred.append(command)
                    pendingDeferredIDs.append((id, index))
                } else {
                    try tracker.handle(command)
                    plan.metadata.append(command)
                }
            }
        }
        plan.subvolumeUUID = tracker.subvolumeUUID
        plan.isIncremental = tracker.isIncremental

        // The commands are gone by now; an error names the command by its kind and index.
        func final(_ id: ObjectID, _ index: Int, required: Bool, _ what: @autoclosure () -> String) throws -> SendPath? {
            switch tracker.fate(of: id) {
            case .exists(let path): return path
            case .deleted:
                if required { throw StreamPlanError.noFinalPath(command: what(), index: index) }
                return nil
            case .unresolved(let inode):
                if let path = try unresolved(inode) { return path }
                if required { throw StreamPlanError.noFinalPath(command: what(), index: index) }
                return nil
            }
        }
        var ordered: [(Int, OrderedItem)] = []
        for (command, id, index) in pendingFallocates {
            guard let path = try final(id, index, required: false, command.description) else { continue }
            var rewritten = command
            rewritten.set(.path(.path, path))
            ordered.append((index, .command(rewritten)))
        }
        let keepOrder = Set(ordered.compactMap { if case .command(let command) = $0.1 { try? command.path() } else { nil } })
        for (id, offset, length, index) in pendingData where length > 0 {
            guard let path = try final(id, index, required: true, "update_extent file_offset=\(offset) size=\(length)") else { continue }
            let range = DataRange(path: path, offset: offset, length: length)
            if keepOrder.contains(path) {
                ordered.append((index, .data(range)))
            } else {
                plan.data.append(range)
            }
        }
        // Their TRUNCATEs too: a punch up to the end of file and a truncate do not commute either.
        var moved = Set<Int>()
        for (position, id, index) in pendingTruncates {
            guard let path = try final(id, index, required: false, "truncate"), keepOrder.contains(path) else { continue }
            var rewritten = plan.metadata[position]
            rewritten.set(.path(.path, path))
            ordered.append((index, .command(rewritten)))
            moved.insert(position)
        }
        if !moved.isEmpty {
            plan.metadata = plan.metadata.removing(moved)
        }
        plan.ordered = ordered.sorted { $0.0 < $1.0 }.map(\.1)
        for (command, id, source, index) in pendingClones {
            var rewritten = command
            guard let path = try final(id, index, required: true, command.description) else { continue }
            rewritten.set(.path(.path, path))
            if let source, let sourcePath = try final(source, index, required: true, command.description) {
                rewritten.set(.path(.clonePath, sourcePath))
            }
            plan.clones.append(rewritten)
        }
        for (position, (id, index)) in pendingDeferredIDs.enumerated() {
            // An attribute of something the stream removes again needs no replay.
            guard let path = try final(id, index, required: false, "") else { continue }
            var rewritten = pendingDeferred[position]
            rewritten.set(.path(.path, path))
            plan.deferred.append(rewritten)
        }
        return plan
    }
}

public enum StreamPlanError: Error, CustomStringConvertible, Sendable {
    case noFinalPath(command: String, index: Int)

    public var description: String {
        switch self {
        case .noFinalPath(let command, let index):
            "the kernel stream's command \(index) (\(command)) names a file that does not exist at the end of the stream"
        }
    }
}

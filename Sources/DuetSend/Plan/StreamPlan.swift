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
    public private(set) var data = DataRangeList()

    /// The data ranges, leaving none: once planned into pieces they are not needed again, and a
    /// million-file stream has a million of them.
    public mutating func takeData() -> DataRangeList {
        defer { data = DataRangeList() }
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
    public private(set) var clones = CommandList()
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
    public static func build(
        _ commands: [SendCommand],
        unresolved: (UInt64?) throws -> SendPath? = { _ in nil }
    ) throws -> StreamPlan {
        var iterator = commands.makeIterator()
        return try build(next: { iterator.next() }, unresolved: unresolved)
    }

    /// The same, reading the commands one at a time from `next` (nil: the stream ended), so
    /// the whole stream is never held as commands: a million-file stream is mostly commands.
    public static func build(
        next: () throws -> SendCommand?,
        unresolved: (UInt64?) throws -> SendPath? = { _ in nil }
    ) throws -> StreamPlan {
        var plan = StreamPlan()
        var tracker = PathTracker()
        // What each moved command is about, noted as the stream goes by and resolved after its
        // END; spilled to a temporary file like the commands themselves (a million-file stream
        // has several per file).
        var pendingData = SpilledRecords<PendingData>()
        var pendingClones = SpilledRecords<PendingClone>()
        var pendingCloneCommands = CommandList()
        var pendingDeferred = CommandList()
        var pendingDeferredIDs = SpilledRecords<PendingCommand>()
        var pendingFallocates = CommandList()
        var pendingFallocateIDs = SpilledRecords<PendingCommand>()
        var pendingTruncates = SpilledRecords<PendingTruncate>()
        var index = -1
        while let command = try next() {
            index += 1
            switch command.type {
            case .end:
                break
            case .updateExtent:
                guard let id = try tracker.handle(command) else { continue }
                pendingData.append(
                    PendingData(object: id.index, offset: try command.u64(.fileOffset), length: try command.u64(.size), index: index))
            case .clone:
                var source = -1
                // A clone without a source UUID is not from this subvolume: left as the kernel sent it.
                if let uuid = try? command.uuid(.cloneUUID), uuid == tracker.subvolumeUUID {
                    source = try tracker.objectID(for: try command.path(.clonePath)).index
                }
                guard let id = try tracker.handle(command) else { continue }
                pendingCloneCommands.append(command)
                pendingClones.append(PendingClone(object: id.index, source: source, index: index))
            case .fallocate:
                // The kernel's v2 holes. Punching and writing the same file do not commute (a punch
                // stops at the current end of file; a write past it zeroes the old last block), so
                // a file with FALLOCATE keeps its data and FALLOCATEs in kernel order, after all
                // metadata like other data.
                guard let id = try tracker.handle(command) else { continue }
                pendingFallocates.append(command)
                pendingFallocateIDs.append(PendingCommand(object: id.index, index: index))
            case .truncate:
                // Kept in place unless its file is one with FALLOCATE (see below).
                guard let id = try tracker.handle(command) else { continue }
                pendingTruncates.append(PendingTruncate(position: plan.metadata.count, object: id.index, index: index))
                plan.metadata.append(command)
            default:
                if isDeferred(command) {
                    guard let id = try tracker.handle(command) else { continue }
                    pendingDeferred.append(command)
                    pendingDeferredIDs.append(PendingCommand(object: id.index, index: index))
                } else {
                    try tracker.handle(command)
                    plan.metadata.append(command)
                }
            }
        }
        plan.subvolumeUUID = tracker.subvolumeUUID
        plan.isIncremental = tracker.isIncremental

        // The commands are gone by now; an error names the command by its kind and index.
        func final(_ object: Int, _ index: Int, required: Bool, _ what: @autoclosure () -> String) throws -> SendPath? {
            switch tracker.fate(of: ObjectID(index: object)) {
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
        var fallocates = pendingFallocates.makeIterator()
        try pendingFallocateIDs.forEach { pending in
            let command = fallocates.next()!
            guard let path = try final(pending.object, pending.index, required: false, command.description) else { return }
            var rewritten = command
            rewritten.set(.path(.path, path))
            ordered.append((pending.index, .command(rewritten)))
        }
        // Commands without a path attribute have no order to keep.
        let keepOrder = Set(ordered.compactMap { if case .command(let command) = $0.1 { try? command.path() } else { nil } })
        try pendingData.forEach { pending in
            guard pending.length > 0 else { return }
            guard
                let path = try final(
                    pending.object, pending.index, required: true,
                    "update_extent file_offset=\(pending.offset) size=\(pending.length)")
            else { return }
            let range = DataRange(path: path, offset: pending.offset, length: pending.length)
            if keepOrder.contains(path) {
                ordered.append((pending.index, .data(range)))
            } else {
                plan.data.append(range)
            }
        }
        // Their TRUNCATEs too: a punch up to the end of file and a truncate do not commute either.
        var moved: [Int: (index: Int, path: SendPath)] = [:]
        if !keepOrder.isEmpty {
            try pendingTruncates.forEach { pending in
                guard let path = try final(pending.object, pending.index, required: false, "truncate"), keepOrder.contains(path) else {
                    return
                }
                moved[pending.position] = (pending.index, path)
            }
        }
        if !moved.isEmpty {
            var kept = CommandList()
            for (position, command) in plan.metadata.enumerated() {
                guard let (index, path) = moved[position] else {
                    kept.append(command)
                    continue
                }
                var rewritten = command
                rewritten.set(.path(.path, path))
                ordered.append((index, .command(rewritten)))
            }
            plan.metadata = kept
        }
        plan.ordered = ordered.sorted { $0.0 < $1.0 }.map(\.1)
        var clones = pendingCloneCommands.makeIterator()
        try pendingClones.forEach { pending in
            var rewritten = clones.next()!
            guard let path = try final(pending.object, pending.index, required: true, rewritten.description) else { return }
            rewritten.set(.path(.path, path))
            if pending.source >= 0, let sourcePath = try final(pending.source, pending.index, required: true, rewritten.description) {
                rewritten.set(.path(.clonePath, sourcePath))
            }
            plan.clones.append(rewritten)
        }
        var deferred = pendingDeferred.makeIterator()
        try pendingDeferredIDs.forEach { pending in
            var rewritten = deferred.next()!
            // An attribute of something the stream removes again needs no replay.
            guard let path = try final(pending.object, pending.index, required: false, "") else { return }
            rewritten.set(.path(.path, path))
            plan.deferred.append(rewritten)
        }
        return plan
    }

    /// An `UPDATE_EXTENT` of the kernel's stream, its object's handle and the command's index.
    struct PendingData: BitwiseCopyable {
        var object: Int
        var offset: UInt64
        var length: UInt64
        var index: Int
    }

    /// A CLONE: its target's handle, its source's in this subvolume (-1: another subvolume).
    struct PendingClone: BitwiseCopyable {
        var object: Int
        var source: Int
        var index: Int
    }

    /// A command moved out of kernel order and the handle of the object it is about.
    struct PendingCommand: BitwiseCopyable {
        var object: Int
        var index: Int
    }

    /// A TRUNCATE left in the metadata at `position`.
    struct PendingTruncate: BitwiseCopyable {
        var position: Int
        var object: Int
        var index: Int
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

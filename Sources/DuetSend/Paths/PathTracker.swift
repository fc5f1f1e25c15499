/// A model of the receiver's directory tree, fed with a send stream's commands in order, that
/// maps every path seen during the stream to the same object's path at the end of the stream.
///
/// Why: `duet send` moves data, clones and some attribute commands after all metadata, so
/// their paths must name where the file *ends up*, not where it was when the kernel sent them
/// (new inodes are born under orphan names like `o257-7-0` and renamed later; directories move
/// with their subtrees; names are swapped through orphans).
///
/// Usage: `handle(_:)` every command in order; it returns the handle of the object the command
/// is about. For other paths of a command (a CLONE's source in this subvolume), take a handle
/// with `objectID(for:)` before handling the next command. After the last command, ask
/// `finalPath(of:)` or `fate(of:)`.
///
/// Identity: objects created by the stream carry the `INO` attribute and their orphan name's
/// `(inode, generation)`. In an incremental stream, a path never created in the stream names an
/// object that existed in the parent; it becomes a pre-existing object at first sight, and its
/// children are discovered the same way. When the kernel moves two such handles to orphan
/// names of the same inode, they are merged.
public struct PathTracker: Sendable {
    private var objects: [TrackedObject]
    private var root: ObjectID
    private var identities: [InodeIdentity: ObjectID] = [:]

    /// How many commands `handle(_:)` has seen; the index of the next one.
    public private(set) var commandIndex = 0
    /// True after SNAPSHOT (and before any SUBVOL/SNAPSHOT, when nothing is known).
    public private(set) var isIncremental = true
    /// The UUID of the subvolume being received (SUBVOL or SNAPSHOT `UUID`), to tell a CLONE
    /// from this subvolume, whose source path needs rewriting, from one out of another.
    public private(set) var subvolumeUUID: SendUUID?
    /// The parent of an incremental stream (SNAPSHOT `CLONE_UUID`).
    public private(set) var parentUUID: SendUUID?

    public init() {
        objects = [TrackedObject(kind: .directory, origin: .preExisting(originalPath: .root), isSubvolumeRoot: true)]
        root = ObjectID(index: 0)
    }

    // MARK: Feeding the stream

    /// Applies one command to the tree and returns the object it is about: the one created,
    /// renamed, linked or removed, the subvolume root for SUBVOL/SNAPSHOT, or the object at PATH
    /// for any other command (nil for END). That handle stays valid for the whole pass, so a
    /// caller can defer the command and ask `finalPath(of:)` for its path at the end.
    @discardableResult
    public mutating func handle(_ command: SendCommand) throws(PathTrackerError) -> ObjectID? {
        defer { commandIndex += 1 }
        switch command.type {
        case .subvol, .snapshot:
            startSubvolume(command)
            return root
        case .mkfile, .mkdir, .mknod, .mkfifo, .mksock, .symlink:
            let inode = command.contains(.ino) ? try attribute { () throws(SendAttributeError) in try command.u64(.ino) } : nil
            return try create(try path(command, .path), kind: Self.kind(of: command.type), inode: inode)
        case .rename:
            return try rename(from: try path(command, .path), to: try path(command, .pathTo))
        case .link:
            // PATH is the new name, PATH_LINK the existing one (receive: link(PATH_LINK, PATH)).
            return try link(try path(command, .path), to: try path(command, .pathLink))
        case .unlink:
            return try remove(try path(command, .path), directory: false)
        case .rmdir:
            return try remove(try path(command, .path), directory: true)
        case .end:
            return nil
        default:
            return try resolve(try path(command, .path), kindIfNew: .unknown)
        }
    }

    /// The object that `path` names now; unknown paths of an incremental stream become
    /// pre-existing objects. Take it when the path is seen, resolve it after the pass.
    public mutating func objectID(for path: SendPath) throws(PathTrackerError) -> ObjectID {
        try resolve(path, kindIfNew: .unknown)
    }

    /// The object at `path` if the tracker has seen it, without creating anything.
    public func lookup(_ path: SendPath) -> ObjectID? {
        var current = root
        for name in path.components {
            guard let child = objects[canonical(current).index].children[name] else { return nil }
            current = child
        }
        return canonical(current)
    }

    // MARK: Answers

    /// The path of the object now (at the end, after the pass), or nil if it has none we know.
    public func finalPath(of id: ObjectID) -> SendPath? {
        if case .exists(let path) = fate(of: id) { return path }
        return nil
    }

    public func fate(of id: ObjectID) -> ObjectFate {
        let id = canonical(id)
        if let path = currentPath(of: id) { return .exists(path) }
        let object = objects[id.index]
        if object.isPreExisting && object.kind != .directory && object.links.isEmpty {
            return .unresolved(inode: object.inode)
        }
        return .deleted
    }

    /// Every current name of the object (several for a hard-linked file), oldest first.
    public func paths(of id: ObjectID) -> [SendPath] {
        let id = canonical(id)
        return objects[id.index].links.compactMap { link in
            currentPath(of: link.parent).map { $0.appending(link.name) }
        }
    }

    /// The inode number, when the stream gave it (`INO`) or revealed it (an orphan name).
    public func inode(of id: ObjectID) -> UInt64? { objects[canonical(id).index].inode }

    public func kind(of id: ObjectID) -> ObjectKind { objects[canonical(id).index].kind }

    public func origin(of id: ObjectID) -> ObjectOrigin { objects[canonical(id).index].origin }

    /// Whether two handles turned out to be the same object.
    public func isSameObject(_ a: ObjectID, _ b: ObjectID) -> Bool { canonical(a) == canonical(b) }

    // MARK: Commands

    private mutating func startSubvolume(_ command: SendCommand) {
        let created = command.type == .subvol
        let origin: ObjectOrigin = created ? .created(commandIndex: commandIndex) : .preExisting(originalPath: .root)
        root = newObject(.directory, origin)
        objects[root.index].isSubvolumeRoot = true
        identities = [:]
        isIncremental = !created
        subvolumeUUID = try? command.uuid(.uuid)
        parentUUID = created ? nil : try? command.uuid(.cloneUUID)
    }

    private mutating func create(_ path: SendPath, kind: ObjectKind, inode: UInt64?) throws(PathTrackerError) -> ObjectID {
        let (parent, name) = try parentAndName(path)
        guard objects[parent.index].children[name] == nil else { throw .nameInUse(path, commandIndex: commandIndex) }
        let id = newObject(kind, .created(commandIndex: commandIndex))
        objects[id.index].inode = inode
        attach(id, parent, name)
        if let identity = InodeIdentity(orphanName: name), inode == nil || inode == identity.inode {
            reveal(identity, of: id)
        }
        return canonical(id)
    }

    private mutating func rename(from: SendPath, to: SendPath) throws(PathTrackerError) -> ObjectID {
        guard !from.isRoot, !to.isRoot else { throw .invalidMove(from: from, to: to, commandIndex: commandIndex) }
        let (sourceParent, sourceName) = try parentAndName(from)
        let source = try child(sourceParent, sourceName, path: from, kindIfNew: .unknown)
        let (targetParent, targetName) = try parentAndName(to)
        // A directory cannot move into its own subtree.
        var ancestor: ObjectID? = targetParent
        while let current = ancestor {
            if current == source { throw .invalidMove(from: from, to: to, commandIndex: commandIndex) }
            ancestor = objects[current.index].isSubvolumeRoot ? nil : objects[current.index].links.first.map { canonical($0.parent) }
        }
        if let existing = objects[targetParent.index].children[targetName].map(canonical) {
            // rename(2) onto another name of the same inode changes nothing.
            if existing == source { return source }
            // rename(2) replaces the target, as `btrfs receive` would; the kernel avoids it.
            guard objects[existing.index].children.isEmpty else { throw .directoryNotEmpty(to, commandIndex: commandIndex) }
            detach(existing, targetParent, targetName)
            objects[existing.index].lostNameByRemoval = true
        }
        detach(source, sourceParent, sourceName)
        attach(source, targetParent, targetName)
        if let identity = InodeIdentity(orphanName: targetName) { reveal(identity, of: source) }
        return canonical(source)
    }

    private mutating func link(_ newPath: SendPath, to existingPath: SendPath) throws(PathTrackerError) -> ObjectID {
        let target = try resolve(existingPath, kindIfNew: .unknown)
        let (parent, name) = try parentAndName(newPath)
        guard objects[parent.index].children[name] == nil else { throw .nameInUse(newPath, commandIndex: commandIndex) }
        attach(target, parent, name)
        if let identity = InodeIdentity(orphanName: name) { reveal(identity, of: target) }
        return canonical(target)
    }

    private mutating func remove(_ path: SendPath, directory: Bool) throws(PathTrackerError) -> ObjectID {
        guard !path.isRoot else { throw .invalidMove(from: path, to: path, commandIndex: commandIndex) }
        let (parent, name) = try parentAndName(path)
        let id = try child(parent, name, path: path, kindIfNew: directory ? .directory : .unknown)
        if directory {
            if objects[id.index].kind == .unknown { objects[id.index].kind = .directory }
            guard objects[id.index].kind == .directory else { throw .notADirectory(path, commandIndex: commandIndex) }
            guard objects[id.index].children.isEmpty else { throw .directoryNotEmpty(path, commandIndex: commandIndex) }
        }
        detach(id, parent, name)
        objects[id.index].lostNameByRemoval = true
        return id
    }

    // MARK: Tree walking

    private mutating func resolve(_ path: SendPath, kindIfNew: ObjectKind) throws(PathTrackerError) -> ObjectID {
        if path.isRoot { return root }
        let (parent, name) = try parentAndName(path)
        return try child(parent, name, path: path, kindIfNew: kindIfNew)
    }

    /// The directory that holds the last component of `path`, and that component.
    private mutating func parentAndName(_ path: SendPath) throws(PathTrackerError) -> (ObjectID, [UInt8]) {
        var components = path.components
        guard let name = components.popLast() else { throw .nameInUse(path, commandIndex: commandIndex) }
        var current = root
        for (index, component) in components.enumerated() {
            try requireDirectory(current, path)
            current = try child(current, component, path: SendPath(components: Array(components[...index])), kindIfNew: .directory)
        }
        try requireDirectory(current, path)
        return (current, name)
    }

    private mutating func requireDirectory(_ id: ObjectID, _ path: SendPath) throws(PathTrackerError) {
        switch objects[id.index].kind {
        case .directory: break
        case .unknown: objects[id.index].kind = .directory // a pre-existing object used as a directory
        default: throw .notADirectory(path, commandIndex: commandIndex)
        }
    }

    /// The entry `name` of directory `parent`. An entry the stream has not shown yet can exist
    /// only in a pre-existing directory, under a name the stream has not vacated: then it is a
    /// pre-existing object, first seen now.
    private mutating func child(_ parent: ObjectID, _ name: [UInt8], path: SendPath, kindIfNew: ObjectKind) throws(PathTrackerError) -> ObjectID {
        let parent = canonical(parent)
        if let existing = objects[parent.index].children[name] { return canonical(existing) }
        guard case .preExisting(let parentPath) = objects[parent.index].origin,
              !objects[parent.index].vacated.contains(name) else {
            throw .notFound(path, commandIndex: commandIndex)
        }
        let id = newObject(kindIfNew, .preExisting(originalPath: parentPath.appending(name)))
        attach(id, parent, name)
        return id
    }

    private func currentPath(of id: ObjectID) -> SendPath? {
        var names: [[UInt8]] = []
        var current = canonical(id)
        while !objects[current.index].isSubvolumeRoot {
            guard let link = objects[current.index].links.first, names.count <= objects.count else { return nil }
            names.append(link.name)
            current = canonical(link.parent)
        }
        return SendPath(components: names.reversed())
    }

    // MARK: Storage

    private mutating func newObject(_ kind: ObjectKind, _ origin: ObjectOrigin) -> ObjectID {
        objects.append(TrackedObject(kind: kind, origin: origin))
        return ObjectID(index: objects.count - 1)
    }

    private func canonical(_ id: ObjectID) -> ObjectID {
        var id = id
        while let next = objects[id.index].mergedInto { id = next }
        return id
    }

    private mutating func attach(_ id: ObjectID, _ parent: ObjectID, _ name: [UInt8]) {
        objects[id.index].links.append(Link(parent: parent, name: name))
        objects[parent.index].children[name] = id
    }

    private mutating func detach(_ id: ObjectID, _ parent: ObjectID, _ name: [UInt8]) {
        let remaining = objects[id.index].links.filter { !(canonical($0.parent) == parent && $0.name == name) }
        objects[id.index].links = remaining
        objects[parent.index].children[name] = nil
        if objects[parent.index].isPreExisting { objects[parent.index].vacated.insert(name) }
    }

    /// Records that `id` is the inode an orphan name encodes, merging it with an earlier handle
    /// of the same inode (two names of one pre-existing file, first seen separately).
    private mutating func reveal(_ identity: InodeIdentity, of id: ObjectID) {
        let id = canonical(id)
        if objects[id.index].inode == nil { objects[id.index].inode = identity.inode }
        guard objects[id.index].inode == identity.inode else { return }
        if let other = identities[identity].map(canonical), other != id, objects[other.index].kind != .directory || objects[id.index].kind != .directory {
            let keep = merge(other, id)
            identities[identity] = keep
            objects[keep.index].identity = identity
        } else {
            identities[identity] = id
            objects[id.index].identity = identity
        }
    }

    /// Makes two handles one object; the older survives. Returns it.
    private mutating func merge(_ a: ObjectID, _ b: ObjectID) -> ObjectID {
        let (keep, drop) = a < b ? (a, b) : (b, a)
        let dropped = objects[drop.index]
        for link in dropped.links {
            objects[link.parent.index].children[link.name] = keep
            objects[keep.index].links.append(link)
        }
        for (name, child) in dropped.children {
            objects[keep.index].children[name] = child
            for index in objects[child.index].links.indices where objects[child.index].links[index].parent == drop {
                objects[child.index].links[index].parent = keep
            }
        }
        objects[keep.index].vacated.formUnion(dropped.vacated)
        if objects[keep.index].kind == .unknown { objects[keep.index].kind = dropped.kind }
        if objects[keep.index].inode == nil { objects[keep.index].inode = dropped.inode }
        objects[keep.index].lostNameByRemoval = objects[keep.index].lostNameByRemoval || dropped.lostNameByRemoval
        objects[drop.index].mergedInto = keep
        objects[drop.index].links = []
        objects[drop.index].children = [:]
        return keep
    }

    // MARK: Attributes

    private static func kind(of type: SendCommandType) -> ObjectKind {
        switch type {
        case .mkdir: .directory
        case .mkfile: .regularFile
        case .symlink: .symlink
        default: .special
        }
    }

    private func path(_ command: SendCommand, _ type: SendAttributeType) throws(PathTrackerError) -> SendPath {
        try attribute { () throws(SendAttributeError) in try command.path(type) }
    }

    private func attribute<T>(_ body: () throws(SendAttributeError) -> T) throws(PathTrackerError) -> T {
        do throws(SendAttributeError) {
            return try body()
        } catch {
            throw .badCommand(error, commandIndex: commandIndex)
        }
    }
}

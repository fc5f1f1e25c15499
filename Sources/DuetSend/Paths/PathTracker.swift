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
    private var nodes = ChunkedArray<TrackedNode>()
    private var names = NameArena()
    private var children = ChildTable()
    /// Names beyond an object's first, oldest first (hard links).
    private var extraLinks: [UInt32: [LinkRef]] = [:]
    /// A pre-existing object's name in the directory it was first seen in.
    private var originNames: [UInt32: NameRef] = [:]
    private var mergedInto: [UInt32: UInt32] = [:]
    /// Names of a pre-existing directory that the stream removed or moved away: such a name is
    /// no longer a way to reach an unseen object from the parent snapshot.
    private var vacated: [UInt32: Set<[UInt8]>] = [:]
    /// Pre-existing objects by the identity an orphan name revealed. Created objects are not
    /// kept here: their `(inode, generation)` is new in the sent snapshot, so no handle of a
    /// pre-existing object can turn out to be one of them.
    private var identities: [InodeIdentity: UInt32] = [:]
    private var root: UInt32 = 0

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
        root = newNode(.directory, preExistingIn: nil, name: nil)
        nodes[Int(root)].flags.insert(.subvolumeRoot)
    }

    // MARK: Feeding the stream

    /// Applies one command to the tree and returns the object it is about: the one created,
    /// renamed, linked or removed, the subvolume root for SUBVOL/SNAPSHOT, or the object at PATH
    /// for any other command (nil for END). That handle stays valid for the whole pass, so a
    /// caller can defer the command and ask `finalPath(of:)` for its path at the end.
    @discardableResult
    public mutating func handle(_ command: SendCommand) throws(PathTrackerError) -> ObjectID? {
        defer { commandIndex += 1 }
        let id: UInt32?
        switch command.type {
        case .subvol, .snapshot:
            startSubvolume(command)
            id = root
        case .mkfile, .mkdir, .mknod, .mkfifo, .mksock, .symlink:
            let inode = command.contains(.ino) ? try attribute { () throws(SendAttributeError) in try command.u64(.ino) } : nil
            id = try create(try path(command, .path), kind: Self.kind(of: command.type), inode: inode)
        case .rename:
            id = try rename(from: try path(command, .path), to: try path(command, .pathTo))
        case .link:
            // PATH is the new name, PATH_LINK the existing one (receive: link(PATH_LINK, PATH)).
            id = try link(try path(command, .path), to: try path(command, .pathLink))
        case .unlink:
            id = try remove(try path(command, .path), directory: false)
        case .rmdir:
            id = try remove(try path(command, .path), directory: true)
        case .end:
            id = nil
        default:
            id = try resolve(try path(command, .path), kindIfNew: .unknown)
        }
        return id.map { ObjectID(index: Int($0)) }
    }

    /// The object that `path` names now; unknown paths of an incremental stream become
    /// pre-existing objects. Take it when the path is seen, resolve it after the pass.
    public mutating func objectID(for path: SendPath) throws(PathTrackerError) -> ObjectID {
        ObjectID(index: Int(try resolve(path, kindIfNew: .unknown)))
    }

    /// The object at `path` if the tracker has seen it, without creating anything.
    public func lookup(_ path: SendPath) -> ObjectID? {
        var current = root
        for name in path.components {
            guard let slot = entrySlot(canonical(current), name) else { return nil }
            current = children.child(at: slot)
        }
        return ObjectID(index: Int(canonical(current)))
    }

    // MARK: Answers

    /// The path of the object now (at the end, after the pass), or nil if it has none we know.
    public func finalPath(of id: ObjectID) -> SendPath? {
        if case .exists(let path) = fate(of: id) { return path }
        return nil
    }

    public func fate(of id: ObjectID) -> ObjectFate {
        let id = canonical(UInt32(id.index))
        if let path = currentPath(of: id) { return .exists(path) }
        let node = nodes[Int(id)]
        if node.flags.contains(.preExisting) && node.kind != .directory && node.firstLink == nil {
            return .unresolved(inode: node.inode == 0 ? nil : node.inode)
        }
        return .deleted
    }

    /// Every current name of the object (several for a hard-linked file), oldest first.
    public func paths(of id: ObjectID) -> [SendPath] {
        links(of: canonical(UInt32(id.index))).compactMap { link in
            currentPath(of: link.parent).map { SendPath(bytes: Self.joined($0.bytes, names.bytes(link.name))) }
        }
    }

    /// The inode number, when the stream gave it (`INO`) or revealed it (an orphan name).
    public func inode(of id: ObjectID) -> UInt64? {
        let inode = nodes[Int(canonical(UInt32(id.index)))].inode
        return inode == 0 ? nil : inode
    }

    public func kind(of id: ObjectID) -> ObjectKind { nodes[Int(canonical(UInt32(id.index)))].kind }

    public func origin(of id: ObjectID) -> ObjectOrigin { origin(canonical(UInt32(id.index))) }

    /// Whether two handles turned out to be the same object.
    public func isSameObject(_ a: ObjectID, _ b: ObjectID) -> Bool {
        canonical(UInt32(a.index)) == canonical(UInt32(b.index))
    }

    // MARK: Commands

    private mutating func startSubvolume(_ command: SendCommand) {
        let created = command.type == .subvol
        root = created ? newNode(.directory, created: commandIndex) : newNode(.directory, preExistingIn: nil, name: nil)
        nodes[Int(root)].flags.insert(.subvolumeRoot)
        identities = [:]
        isIncremental = !created
        // The UUIDs only tell own clones from others: without them every clone is left as sent.
        subvolumeUUID = try? command.uuid(.uuid)
        parentUUID = created ? nil : try? command.uuid(.cloneUUID)
    }

    private mutating func create(_ path: SendPath, kind: ObjectKind, inode: UInt64?) throws(PathTrackerError) -> UInt32 {
        let (parent, name) = try parentAndName(path)
        guard entrySlot(parent, name) == nil else { throw .nameInUse(path, commandIndex: commandIndex) }
        let id = newNode(kind, created: commandIndex)
        nodes[Int(id)].inode = inode ?? 0
        attach(id, parent, name)
        if let identity = InodeIdentity(orphanName: name), inode == nil || inode == identity.inode {
            reveal(identity, of: id)
        }
        return canonical(id)
    }

    private mutating func rename(from: SendPath, to: SendPath) throws(PathTrackerError) -> UInt32 {
        guard !from.isRoot, !to.isRoot else { throw .invalidMove(from: from, to: to, commandIndex: commandIndex) }
        let (sourceParent, sourceName) = try parentAndName(from)
        let source = try child(sourceParent, sourceName, path: from, kindIfNew: .unknown)
        let (targetParent, targetName) = try parentAndName(to)
        // A directory cannot move into its own subtree.
        var ancestor: UInt32? = targetParent
        while let current = ancestor {
            if current == source { throw .invalidMove(from: from, to: to, commandIndex: commandIndex) }
            let node = nodes[Int(current)]
            ancestor = node.flags.contains(.subvolumeRoot) ? nil : node.firstLink.map { canonical($0.parent) }
        }
        if let slot = entrySlot(targetParent, targetName) {
            let existing = canonical(children.child(at: slot))
            // rename(2) onto another name of the same inode changes nothing.
            if existing == source { return source }
            // rename(2) replaces the target, as `btrfs receive` would; the kernel avoids it.
            guard nodes[Int(existing)].childCount == 0 else { throw .directoryNotEmpty(to, commandIndex: commandIndex) }
            detach(existing, targetParent, targetName)
            nodes[Int(existing)].flags.insert(.lostNameByRemoval)
        }
        detach(source, sourceParent, sourceName)
        attach(source, targetParent, targetName)
        if let identity = InodeIdentity(orphanName: targetName) { reveal(identity, of: source) }
        return canonical(source)
    }

    private mutating func link(_ newPath: SendPath, to existingPath: SendPath) throws(PathTrackerError) -> UInt32 {
        let target = try resolve(existingPath, kindIfNew: .unknown)
        let (parent, name) = try parentAndName(newPath)
        guard entrySlot(parent, name) == nil else { throw .nameInUse(newPath, commandIndex: commandIndex) }
        attach(target, parent, name)
        if let identity = InodeIdentity(orphanName: name) { reveal(identity, of: target) }
        return canonical(target)
    }

    private mutating func remove(_ path: SendPath, directory: Bool) throws(PathTrackerError) -> UInt32 {
        guard !path.isRoot else { throw .invalidMove(from: path, to: path, commandIndex: commandIndex) }
        let (parent, name) = try parentAndName(path)
        let id = try child(parent, name, path: path, kindIfNew: directory ? .directory : .unknown)
        if directory {
            if nodes[Int(id)].kind == .unknown { nodes[Int(id)].kind = .directory }
            guard nodes[Int(id)].kind == .directory else { throw .notADirectory(path, commandIndex: commandIndex) }
            guard nodes[Int(id)].childCount == 0 else { throw .directoryNotEmpty(path, commandIndex: commandIndex) }
        }
        detach(id, parent, name)
        nodes[Int(id)].flags.insert(.lostNameByRemoval)
        return id
    }

    // MARK: Tree walking

    private mutating func resolve(_ path: SendPath, kindIfNew: ObjectKind) throws(PathTrackerError) -> UInt32 {
        if path.isRoot { return root }
        let (parent, name) = try parentAndName(path)
        return try child(parent, name, path: path, kindIfNew: kindIfNew)
    }

    /// The directory that holds the last component of `path`, and that component.
    private mutating func parentAndName(_ path: SendPath) throws(PathTrackerError) -> (UInt32, [UInt8]) {
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

    private mutating func requireDirectory(_ id: UInt32, _ path: SendPath) throws(PathTrackerError) {
        switch nodes[Int(id)].kind {
        case .directory: break
        case .unknown: nodes[Int(id)].kind = .directory  // a pre-existing object used as a directory
        default: throw .notADirectory(path, commandIndex: commandIndex)
        }
    }

    /// The entry `name` of directory `parent`. An entry the stream has not shown yet can exist
    /// only in a pre-existing directory, under a name the stream has not vacated: then it is a
    /// pre-existing object, first seen now.
    private mutating func child(_ parent: UInt32, _ name: [UInt8], path: SendPath, kindIfNew: ObjectKind) throws(PathTrackerError) -> UInt32
    {
        let parent = canonical(parent)
        if let slot = entrySlot(parent, name) { return canonical(children.child(at: slot)) }
        guard nodes[Int(parent)].flags.contains(.preExisting), vacated[parent]?.contains(name) != true else {
            throw .notFound(path, commandIndex: commandIndex)
        }
        let id = newNode(kindIfNew, preExistingIn: parent, name: name)
        attach(id, parent, name)
        return id
    }

    private func currentPath(of id: UInt32) -> SendPath? {
        var names: [ArraySlice<UInt8>] = []
        var current = canonical(id)
        while !nodes[Int(current)].flags.contains(.subvolumeRoot) {
            guard let link = nodes[Int(current)].firstLink, names.count <= nodes.count else { return nil }
            names.append(self.names.bytes(link.name))
            current = canonical(link.parent)
        }
        return SendPath(bytes: Array(names.reversed().joined(separator: [UInt8(ascii: "/")])))
    }

    private func origin(_ id: UInt32) -> ObjectOrigin {
        let node = nodes[Int(id)]
        guard node.flags.contains(.preExisting) else { return .created(commandIndex: Int(node.origin)) }
        guard node.origin != UInt64.max, let name = originNames[id] else { return .preExisting(originalPath: .root) }
        guard case .preExisting(let parentPath) = origin(UInt32(node.origin)) else { return .preExisting(originalPath: .root) }
        return .preExisting(originalPath: SendPath(bytes: Self.joined(parentPath.bytes, names.bytes(name))))
    }

    private static func joined(_ path: [UInt8], _ name: ArraySlice<UInt8>) -> [UInt8] {
        path.isEmpty ? Array(name) : path + [UInt8(ascii: "/")] + name
    }

    // MARK: Storage

    private mutating func newNode(_ kind: ObjectKind, created commandIndex: Int) -> UInt32 {
        nodes.append(TrackedNode(origin: UInt64(commandIndex), kind: kind, flags: []))
        return UInt32(nodes.count - 1)
    }

    /// A pre-existing object first seen as `name` in `parent` (nil: a subvolume root).
    private mutating func newNode(_ kind: ObjectKind, preExistingIn parent: UInt32?, name: [UInt8]?) -> UInt32 {
        nodes.append(TrackedNode(origin: parent.map(UInt64.init) ?? UInt64.max, kind: kind, flags: .preExisting))
        let id = UInt32(nodes.count - 1)
        if parent != nil, let name { originNames[id] = names.store(name) }
        return id
    }

    private func canonical(_ id: UInt32) -> UInt32 {
        var id = id
        while nodes[Int(id)].flags.contains(.merged), let next = mergedInto[id] { id = next }
        return id
    }

    private func links(of id: UInt32) -> [LinkRef] {
        guard let first = nodes[Int(id)].firstLink else { return [] }
        return [first] + (extraLinks[id] ?? [])
    }

    private mutating func setLinks(_ id: UInt32, _ links: [LinkRef]) {
        nodes[Int(id)].firstParent = links.first?.parent ?? TrackedNode.noParent
        nodes[Int(id)].firstName = links.first?.name ?? NameRef(offset: 0, length: 0)
        extraLinks[id] = links.count > 1 ? Array(links.dropFirst()) : nil
    }

    private func hasLink(_ id: UInt32, _ parent: UInt32, _ name: [UInt8]) -> Bool {
        if let first = nodes[Int(id)].firstLink, first.parent == parent, names.equals(first.name, name) { return true }
        return extraLinks[id]?.contains { $0.parent == parent && names.equals($0.name, name) } ?? false
    }

    /// The child-table slot of the entry `name` in `parent`.
    private func entrySlot(_ parent: UInt32, _ name: [UInt8]) -> Int? {
        children.slot(hash: ChildTable.hash(parent: parent, name: name)) { hasLink($0, parent, name) }
    }

    private mutating func attach(_ id: UInt32, _ parent: UInt32, _ name: [UInt8]) {
        let link = LinkRef(parent: parent, name: names.store(name))
        if nodes[Int(id)].firstLink == nil {
            nodes[Int(id)].firstParent = link.parent
            nodes[Int(id)].firstName = link.name
        } else {
            extraLinks[id, default: []].append(link)
        }
        setEntry(parent, name, to: id)
    }

    /// Makes `name` in `parent` name `id`, replacing what it named.
    private mutating func setEntry(_ parent: UInt32, _ name: [UInt8], to id: UInt32) {
        if let slot = entrySlot(parent, name) {
            children.replace(at: slot, child: id)
        } else {
            children.insert(hash: ChildTable.hash(parent: parent, name: name), child: id)
            nodes[Int(parent)].childCount += 1
        }
    }

    private mutating func detach(_ id: UInt32, _ parent: UInt32, _ name: [UInt8]) {
        let remaining = links(of: id).filter { !(canonical($0.parent) == parent && names.equals($0.name, name)) }
        // The entry first (it is found through the link that goes now).
        if let slot = entrySlot(parent, name) {
            children.remove(at: slot)
            nodes[Int(parent)].childCount -= 1
        }
        setLinks(id, remaining)
        if nodes[Int(parent)].flags.contains(.preExisting) { vacated[parent, default: []].insert(name) }
    }

    /// Records that `id` is the inode an orphan name encodes, merging it with an earlier handle
    /// of the same inode (two names of one pre-existing file, first seen separately).
    private mutating func reveal(_ identity: InodeIdentity, of id: UInt32) {
        let id = canonical(id)
        if nodes[Int(id)].inode == 0 { nodes[Int(id)].inode = identity.inode }
        guard nodes[Int(id)].inode == identity.inode, nodes[Int(id)].flags.contains(.preExisting) else { return }
        if let other = identities[identity].map(canonical), other != id,
            nodes[Int(other)].kind != .directory || nodes[Int(id)].kind != .directory
        {
            identities[identity] = merge(other, id)
        } else {
            identities[identity] = id
        }
    }

    /// Makes two handles one object; the older survives. Returns it.
    private mutating func merge(_ a: UInt32, _ b: UInt32) -> UInt32 {
        let (keep, drop) = a < b ? (a, b) : (b, a)
        let droppedLinks = links(of: drop)
        // Entries of the dropped object's directory move to the survivor (a whole-table walk,
        // but only for a merged directory, which needs two names of one pre-existing inode).
        if nodes[Int(drop)].childCount > 0 {
            var moved: [(child: UInt32, name: [UInt8])] = []
            for (_, child) in children.entries() {
                for link in links(of: child) where link.parent == drop { moved.append((child, Array(names.bytes(link.name)))) }
            }
            // Entries are found through the children's links: take them all out before relinking.
            for entry in moved {
                if let slot = entrySlot(drop, entry.name) { children.remove(at: slot) }
            }
            for child in Set(moved.map(\.child)) {
                setLinks(child, links(of: child).map { $0.parent == drop ? LinkRef(parent: keep, name: $0.name) : $0 })
            }
            for entry in moved { setEntry(keep, entry.name, to: entry.child) }
            nodes[Int(drop)].childCount = 0
        }
        for link in droppedLinks {
            let name = Array(names.bytes(link.name))
            // The entry is found through the dropped object's link: take it before the link moves.
            if let slot = entrySlot(link.parent, name) { children.replace(at: slot, child: keep) }
        }
        setLinks(keep, links(of: keep) + droppedLinks)
        setLinks(drop, [])
        if let dropped = vacated[drop] { vacated[keep, default: []].formUnion(dropped) }
        vacated[drop] = nil
        if nodes[Int(keep)].kind == .unknown { nodes[Int(keep)].kind = nodes[Int(drop)].kind }
        if nodes[Int(keep)].inode == 0 { nodes[Int(keep)].inode = nodes[Int(drop)].inode }
        if nodes[Int(drop)].flags.contains(.lostNameByRemoval) { nodes[Int(keep)].flags.insert(.lostNameByRemoval) }
        nodes[Int(drop)].flags.insert(.merged)
        mergedInto[drop] = keep
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

import DuetSend
import DuetTestSupport
import Testing

/// Random histories checked against a naive model of the receiver's tree (a map from path to
/// inode that moves whole prefixes on rename): the tracker must agree on where every object
/// it handed out a handle for ends up.
@Suite struct PathTrackerRandomTests {
    /// A naive receiver: every path and the inode it names.
    struct Reference {
        var entries: [String: (inode: UInt64, directory: Bool)] = ["": (256, true)]
        var nextInode: UInt64 = 257

        func directories() -> [String] { entries.filter { $0.value.directory }.map(\.key).sorted() }
        func nonRoot() -> [String] { entries.keys.filter { !$0.isEmpty }.sorted() }
        func join(_ parent: String, _ name: String) -> String { parent.isEmpty ? name : parent + "/" + name }
        func isEmptyDirectory(_ path: String) -> Bool { !entries.keys.contains { $0.hasPrefix(path + "/") } }
        func paths(of inode: UInt64) -> Set<String> { Set(entries.filter { $0.value.inode == inode }.map(\.key)) }

        mutating func move(_ from: String, _ to: String) {
            for (path, entry) in entries where path == from || path.hasPrefix(from + "/") {
                entries[path] = nil
                entries[to + path.dropFirst(from.count)] = entry
            }
        }
    }

    typealias Random = SeededGenerator

    static let names = ["a", "b", "c", "d", "e"]

    /// Builds a random parent tree (unknown to the tracker) of files and directories, no hard links.
    static func parentTree(_ random: inout Random) -> Reference {
        var reference = Reference()
        for _ in 0..<25 {
            let parent = random.pick(reference.directories())
            let path = reference.join(parent, random.pick(names))
            guard reference.entries[path] == nil else { continue }
            reference.entries[path] = (reference.nextInode, random.next() % 3 == 0)
            reference.nextInode += 1
        }
        return reference
    }

    @Test(arguments: 0..<40, [false, true])
    func randomHistoryAgreesWithTheNaiveModel(seed: UInt64, incremental: Bool) throws {
        var random = Random(seed: seed &* 7919 &+ (incremental ? 1 : 0))
        var reference = incremental ? Self.parentTree(&random) : Reference()
        var tracker = PathTracker()
        let uuid = SendUUID(bytes: Array(repeating: 1, count: 16))!
        try tracker.handle(
            incremental
                ? SendCommand(
                    .snapshot, [.path(.path, "s"), .uuid(.uuid, uuid), .u64(.ctransid, 2), .uuid(.cloneUUID, uuid), .u64(.cloneCtransid, 1)]
                )
                : SendCommand(.subvol, [.path(.path, "s"), .uuid(.uuid, uuid), .u64(.ctransid, 2)]))
        var handles: [(ObjectID, UInt64)] = []

        for _ in 0..<150 {
            var command: SendCommand?
            switch random.next() % 6 {
            case 0, 1:  // create, under an orphan name first and renamed into place, as the kernel does
                let parent = random.pick(reference.directories())
                let path = reference.join(parent, random.pick(Self.names))
                guard reference.entries[path] == nil else { continue }
                let inode = reference.nextInode
                reference.nextInode += 1
                let orphan = "o\(inode)-2-0"
                let directory = random.next() % 3 == 0
                try tracker.handle(SendCommand(directory ? .mkdir : .mkfile, [.path(.path, SendPath(orphan)), .u64(.ino, inode)]))
                reference.entries[orphan] = (inode, directory)
                command = SendCommand(.rename, [.path(.path, SendPath(orphan)), .path(.pathTo, SendPath(path))])
                reference.move(orphan, path)
            case 2:  // rename anything to a free name outside its own subtree
                guard !reference.nonRoot().isEmpty else { continue }
                let from = random.pick(reference.nonRoot())
                let parent = random.pick(reference.directories())
                let to = reference.join(parent, random.pick(Self.names))
                guard reference.entries[to] == nil, parent != from, !parent.hasPrefix(from + "/") else { continue }
                command = SendCommand(.rename, [.path(.path, SendPath(from)), .path(.pathTo, SendPath(to))])
                reference.move(from, to)
            case 3:  // hard link a file
                let files = reference.nonRoot().filter { !reference.entries[$0]!.directory }
                guard !files.isEmpty else { continue }
                let existing = random.pick(files)
                let path = reference.join(random.pick(reference.directories()), random.pick(Self.names))
                guard reference.entries[path] == nil else { continue }
                command = SendCommand(.link, [.path(.path, SendPath(path)), .path(.pathLink, SendPath(existing))])
                reference.entries[path] = reference.entries[existing]
            case 4:  // unlink a file or rmdir an empty directory
                guard !reference.nonRoot().isEmpty else { continue }
                let path = random.pick(reference.nonRoot())
                let directory = reference.entries[path]!.directory
                guard !directory || reference.isEmptyDirectory(path) else { continue }
                command = SendCommand(directory ? .rmdir : .unlink, [.path(.path, SendPath(path))])
                reference.entries[path] = nil
            default:  // look at something, as a data or attribute command would
                guard !reference.nonRoot().isEmpty else { continue }
                let path = random.pick(reference.nonRoot())
                handles.append((try tracker.objectID(for: SendPath(path)), reference.entries[path]!.inode))
            }
            if let command { try tracker.handle(command) }
        }

        for (handle, inode) in handles {
            let expected = reference.paths(of: inode)
            switch tracker.fate(of: handle) {
            case .exists(let path):
                #expect(expected.contains(path.description), "seed \(seed): inode \(inode) at \(path), model has \(expected)")
                if let known = tracker.inode(of: handle) { #expect(known == inode) }
            case .deleted, .unresolved:
                #expect(expected.isEmpty, "seed \(seed): inode \(inode) is at \(expected)")
            }
        }
    }
}

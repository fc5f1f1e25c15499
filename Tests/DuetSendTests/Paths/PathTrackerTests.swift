import Testing

@testable import DuetSend

/// The path tracker on hand-written command sequences shaped like the kernel's.
@Suite struct PathTrackerTests {
    // MARK: Command builders

    static let uuid = SendUUID(bytes: Array(1...16))!
    static let parentUUID = SendUUID(bytes: Array(17...32))!

    static func subvol() -> SendCommand {
        SendCommand(.subvol, [.path(.path, "snap"), .uuid(.uuid, uuid), .u64(.ctransid, 9)])
    }

    static func snapshot() -> SendCommand {
        SendCommand(
            .snapshot,
            [
                .path(.path, "snap"), .uuid(.uuid, uuid), .u64(.ctransid, 9),
                .uuid(.cloneUUID, parentUUID), .u64(.cloneCtransid, 7)
            ])
    }

    static func mkfile(_ path: SendPath, _ inode: UInt64) -> SendCommand {
        SendCommand(.mkfile, [.path(.path, path), .u64(.ino, inode)])
    }

    static func mkdir(_ path: SendPath, _ inode: UInt64) -> SendCommand {
        SendCommand(.mkdir, [.path(.path, path), .u64(.ino, inode)])
    }

    static func rename(_ from: SendPath, _ to: SendPath) -> SendCommand {
        SendCommand(.rename, [.path(.path, from), .path(.pathTo, to)])
    }

    /// `link newPath dest=existing`, as `btrfs receive --dump` prints it.
    static func link(_ newPath: SendPath, to existing: SendPath) -> SendCommand {
        SendCommand(.link, [.path(.path, newPath), .path(.pathLink, existing)])
    }

    static func unlink(_ path: SendPath) -> SendCommand { SendCommand(.unlink, [.path(.path, path)]) }
    static func rmdir(_ path: SendPath) -> SendCommand { SendCommand(.rmdir, [.path(.path, path)]) }

    static func updateExtent(_ path: SendPath) -> SendCommand {
        SendCommand(.updateExtent, [.path(.path, path), .u64(.fileOffset, 0), .u64(.size, 4096)])
    }

    /// Feeds commands, taking a handle for each `(index, path)` request just before that command.
    static func run(_ commands: [SendCommand], handlesAt requests: [(Int, SendPath)] = []) throws -> (PathTracker, [ObjectID]) {
        var tracker = PathTracker()
        var handles: [ObjectID] = []
        for (index, command) in commands.enumerated() {
            for (at, path) in requests where at == index { handles.append(try tracker.objectID(for: path)) }
            try tracker.handle(command)
        }
        for (at, path) in requests where at == commands.count { handles.append(try tracker.objectID(for: path)) }
        return (tracker, handles)
    }

    // MARK: Full streams

    @Test func renameChainEndsAtTheLastName() throws {
        let commands = [
            Self.subvol(), Self.mkdir("o258-9-0", 258), Self.rename("o258-9-0", "dir"),
            Self.mkfile("o257-9-0", 257), Self.updateExtent("o257-9-0"),
            Self.rename("o257-9-0", "a"), Self.rename("a", "b"), Self.rename("b", "dir/c")
        ]
        let (tracker, handles) = try Self.run(commands, handlesAt: [(4, "o257-9-0"), (6, "a"), (8, "dir/c")])
        for handle in handles {
            #expect(tracker.finalPath(of: handle) == "dir/c")
            #expect(tracker.inode(of: handle) == 257)
        }
        #expect(tracker.isSameObject(handles[0], handles[2]))
        #expect(tracker.kind(of: handles[0]) == .regularFile)
        #expect(tracker.origin(of: handles[0]) == .created(commandIndex: 3))
    }

    @Test func directoryRenameMovesItsSubtree() throws {
        let commands = [
            Self.subvol(), Self.mkdir("d", 257), Self.mkdir("d/sub", 258), Self.mkfile("d/sub/f", 259),
            Self.mkdir("x", 260), Self.mkdir("x/y", 261),
            Self.rename("d", "x/y/d2"), Self.rename("x", "z")
        ]
        let (tracker, handles) = try Self.run(commands, handlesAt: [(4, "d/sub/f"), (4, "d/sub"), (7, "x/y/d2/sub/f")])
        #expect(tracker.finalPath(of: handles[0]) == "z/y/d2/sub/f")
        #expect(tracker.finalPath(of: handles[1]) == "z/y/d2/sub")
        #expect(tracker.isSameObject(handles[0], handles[2]))
        #expect(tracker.lookup("z/y/d2/sub/f") == handles[0])
        #expect(tracker.lookup("d") == nil)
    }

    @Test func hardLinkSurvivesTheUnlinkOfItsOriginalName() throws {
        let commands = [
            Self.subvol(), Self.mkdir("d", 256 + 1), Self.mkfile("o300-9-0", 300), Self.rename("o300-9-0", "orig"),
            Self.link("alias", to: "orig"), Self.link("d/third", to: "orig"), Self.unlink("orig")
        ]
        let (tracker, handles) = try Self.run(commands, handlesAt: [(4, "orig")])
        #expect(tracker.finalPath(of: handles[0]) == "alias")
        #expect(tracker.paths(of: handles[0]) == ["alias", "d/third"])
        let (after, more) = try Self.run(commands + [Self.unlink("alias")], handlesAt: [(4, "orig")])
        #expect(after.finalPath(of: more[0]) == "d/third")
        let (gone, last) = try Self.run(commands + [Self.unlink("alias"), Self.unlink("d/third")], handlesAt: [(4, "orig")])
        #expect(gone.fate(of: last[0]) == .deleted)
    }

    @Test func rmdirDeletesAndRefusesNonEmptyDirectories() throws {
        let commands = [Self.subvol(), Self.mkdir("a", 257), Self.mkdir("a/b", 258), Self.rmdir("a/b"), Self.rmdir("a")]
        let (tracker, handles) = try Self.run(commands, handlesAt: [(3, "a/b"), (3, "a")])
        #expect(tracker.fate(of: handles[0]) == .deleted)
        #expect(tracker.finalPath(of: handles[1]) == nil)
        #expect(throws: PathTrackerError.directoryNotEmpty("a", commandIndex: 3)) {
            try Self.run([Self.subvol(), Self.mkdir("a", 257), Self.mkfile("a/f", 258), Self.rmdir("a")])
        }
    }

    @Test func fullStreamsKnowEveryName() {
        // In a full stream nothing pre-exists: an unknown name is a broken stream, not a guess.
        #expect(throws: PathTrackerError.notFound("nothere", commandIndex: 1)) {
            try Self.run([Self.subvol(), Self.unlink("nothere")])
        }
        #expect(throws: PathTrackerError.nameInUse("a", commandIndex: 2)) {
            try Self.run([Self.subvol(), Self.mkfile("a", 257), Self.mkdir("a", 258)])
        }
        #expect(throws: PathTrackerError.notADirectory("f/x", commandIndex: 2)) {
            try Self.run([Self.subvol(), Self.mkfile("f", 257), Self.mkfile("f/x", 258)])
        }
        #expect(throws: PathTrackerError.invalidMove(from: "a", to: "a/b/a", commandIndex: 3)) {
            try Self.run([Self.subvol(), Self.mkdir("a", 257), Self.mkdir("a/b", 258), Self.rename("a", "a/b/a")])
        }
    }

    @Test func missingAttributesAreReported() {
        #expect(throws: PathTrackerError.badCommand(.missing(.pathTo, in: .rename), commandIndex: 1)) {
            try Self.run([Self.subvol(), SendCommand(.rename, [.path(.path, "a")])])
        }
    }

    @Test func subvolumeAndParentUUIDsAreRecorded() throws {
        let (full, _) = try Self.run([Self.subvol()])
        #expect(full.subvolumeUUID == Self.uuid)
        #expect(full.parentUUID == nil)
        #expect(!full.isIncremental)
        let (incremental, _) = try Self.run([Self.snapshot()])
        #expect(incremental.parentUUID == Self.parentUUID)
        #expect(incremental.isIncremental)
    }

    // MARK: Incremental streams

    @Test func nameSwapThroughAnOrphanName() throws {
        // What the kernel sent for `mv x t; mv y x; mv t y` (fixture incr-v1-nodata).
        let commands = [
            Self.snapshot(), Self.rename("y", "o260-7-0"), Self.link("y", to: "x"), Self.unlink("x"),
            Self.rename("o260-7-0", "x")
        ]
        let (tracker, handles) = try Self.run(commands, handlesAt: [(1, "x"), (1, "y"), (3, "o260-7-0"), (3, "y")])
        #expect(tracker.finalPath(of: handles[0]) == "y")
        #expect(tracker.finalPath(of: handles[1]) == "x")
        #expect(tracker.isSameObject(handles[1], handles[2]))
        #expect(tracker.isSameObject(handles[0], handles[3]))
        #expect(tracker.inode(of: handles[1]) == 260)  // revealed by the orphan name
        #expect(tracker.origin(of: handles[0]) == .preExisting(originalPath: "x"))
    }

    @Test func directorySwapMovesBothSubtrees() throws {
        let commands = [
            Self.snapshot(), Self.rename("swapB", "o270-7-0"), Self.rename("swapA", "swapB"), Self.rename("o270-7-0", "swapA")
        ]
        let (tracker, handles) = try Self.run(commands, handlesAt: [(1, "swapA/fileA"), (1, "swapB/fileB")])
        #expect(tracker.finalPath(of: handles[0]) == "swapB/fileA")
        #expect(tracker.finalPath(of: handles[1]) == "swapA/fileB")
        #expect(tracker.origin(of: handles[0]) == .preExisting(originalPath: "swapA/fileA"))
    }

    @Test func childrenOfAMovedPreExistingDirectoryKeepTheirOriginalPaths() throws {
        // `mv p/c c; mv p c/p`: a parent moves under its former child.
        let commands = [Self.snapshot(), Self.rename("p/c", "c"), Self.rename("p", "c/p")]
        let (tracker, handles) = try Self.run(commands, handlesAt: [(1, "p/c/leaf"), (3, "c/p/other"), (3, "c/leaf")])
        #expect(tracker.finalPath(of: handles[0]) == "c/leaf")
        #expect(tracker.finalPath(of: handles[1]) == "c/p/other")
        #expect(tracker.origin(of: handles[1]) == .preExisting(originalPath: "p/other"))
        #expect(tracker.isSameObject(handles[0], handles[2]))
    }

    @Test func preExistingHardLinkRenamedAndOriginalUnlinked() throws {
        let commands = [
            Self.snapshot(), Self.mkdir("o291-9-0", 291), Self.link("o291-9-0/hl_new", to: "hl_orig"),
            Self.unlink("hl_orig"), Self.rename("o291-9-0", "renamed")
        ]
        let (tracker, handles) = try Self.run(commands, handlesAt: [(1, "hl_orig"), (5, "renamed/hl_new")])
        #expect(tracker.finalPath(of: handles[0]) == "renamed/hl_new")
        #expect(tracker.isSameObject(handles[0], handles[1]))
    }

    @Test func fileReplacedByDirectory() throws {
        let commands = [
            Self.snapshot(), Self.unlink("replaced"), Self.mkdir("o293-9-0", 293), Self.rename("o293-9-0", "replaced"),
            Self.mkfile("o294-9-0", 294), Self.rename("o294-9-0", "replaced/inner")
        ]
        let (tracker, handles) = try Self.run(commands, handlesAt: [(1, "replaced"), (6, "replaced"), (6, "replaced/inner")])
        #expect(tracker.finalPath(of: handles[0]) == nil)
        #expect(tracker.fate(of: handles[0]) == .unresolved(inode: nil))  // it may have had another name in the parent
        #expect(!tracker.isSameObject(handles[0], handles[1]))
        #expect(tracker.kind(of: handles[1]) == .directory)
        #expect(tracker.finalPath(of: handles[2]) == "replaced/inner")
    }

    @Test func directoryReplacedByFileThroughOrphans() throws {
        let commands = [
            Self.snapshot(), Self.rename("dirgone", "o273-7-0"), Self.rename("o273-7-0/inner", "o274-7-0"),
            Self.rmdir("o273-7-0"), Self.unlink("o274-7-0/g"), Self.rmdir("o274-7-0"),
            Self.mkfile("o295-9-0", 295), Self.rename("o295-9-0", "dirgone")
        ]
        let (tracker, handles) = try Self.run(commands, handlesAt: [(1, "dirgone"), (1, "dirgone/inner/g"), (8, "dirgone")])
        #expect(tracker.fate(of: handles[0]) == .deleted)
        #expect(tracker.inode(of: handles[0]) == 273)
        #expect(tracker.fate(of: handles[1]) == .unresolved(inode: nil))
        #expect(tracker.finalPath(of: handles[2]) == "dirgone")
        #expect(tracker.inode(of: handles[2]) == 295)
    }

    @Test func twoNamesOfOnePreExistingInodeMergeWhenOrphanNamesReveal() throws {
        let commands = [
            Self.snapshot(), Self.rename("h1", "o300-5-0"), Self.rename("h2", "o300-5-1"),
            Self.rename("o300-5-0", "final"), Self.unlink("o300-5-1")
        ]
        let (tracker, handles) = try Self.run(commands, handlesAt: [(1, "h1"), (1, "h2")])
        #expect(tracker.isSameObject(handles[0], handles[1]))
        #expect(tracker.finalPath(of: handles[1]) == "final")
        #expect(tracker.paths(of: handles[0]) == ["final"])
    }

    @Test func vacatedNamesDoNotComeBackFromTheParent() {
        #expect(throws: PathTrackerError.notFound("a", commandIndex: 2)) {
            try Self.run([Self.snapshot(), Self.rename("a", "b"), Self.unlink("a")])
        }
        // A directory created in the stream has no unseen entries either.
        #expect(throws: PathTrackerError.notFound("new/x", commandIndex: 2)) {
            try Self.run([Self.snapshot(), Self.mkdir("new", 300), Self.unlink("new/x")])
        }
    }

    @Test func inodeNumberReuseWithANewGenerationIsANewObject() throws {
        // The kernel can delete inode 259 and create a new 259 (another generation).
        let commands = [
            Self.snapshot(), Self.rename("f", "o259-7-0"), Self.unlink("o259-7-0"),
            Self.mkfile("o259-9-0", 259), Self.rename("o259-9-0", "f")
        ]
        let (tracker, handles) = try Self.run(commands, handlesAt: [(1, "f"), (5, "f")])
        #expect(!tracker.isSameObject(handles[0], handles[1]))
        #expect(tracker.finalPath(of: handles[1]) == "f")
        #expect(tracker.finalPath(of: handles[0]) == nil)
    }

    @Test func handleReturnsTheObjectEachCommandIsAbout() throws {
        var tracker = PathTracker()
        let root = try tracker.handle(Self.snapshot())
        let created = try tracker.handle(Self.mkfile("o300-9-0", 300))
        let renamed = try tracker.handle(Self.rename("o300-9-0", "new"))
        let linked = try tracker.handle(Self.link("alias", to: "new"))
        let written = try tracker.handle(Self.updateExtent("alias"))
        let old = try tracker.handle(Self.unlink("old"))
        #expect(try tracker.handle(SendCommand(.end)) == nil)
        #expect(tracker.finalPath(of: try #require(root)) == .root)
        for id in [created, renamed, linked, written] { #expect(tracker.finalPath(of: try #require(id)) == "new") }
        #expect(tracker.origin(of: try #require(old)) == .preExisting(originalPath: "old"))
        #expect(tracker.commandIndex == 7)
    }

    @Test func orphanNamesParse() {
        #expect(InodeIdentity(orphanName: Array("o257-7-0".utf8)) == InodeIdentity(inode: 257, generation: 7))
        #expect(InodeIdentity(orphanName: Array("o18446744073709551615-1-12".utf8))?.inode == .max)
        for name in ["o257-7", "o-7-0", "x257-7-0", "o257-7-0-1", "o25a-7-0", "o257--0", "o"] {
            #expect(InodeIdentity(orphanName: Array(name.utf8)) == nil, "\(name)")
        }
    }

    @Test func pathsAreBytesNotStrings() throws {
        let latin1 = SendPath(bytes: Array("caf".utf8) + [0xE9])
        let moved = SendPath(bytes: latin1.bytes + Array("-moved".utf8))
        let commands = [Self.snapshot(), Self.link(moved, to: latin1), Self.unlink(latin1)]
        let (tracker, handles) = try Self.run(commands, handlesAt: [(1, latin1)])
        #expect(tracker.finalPath(of: handles[0])?.bytes == moved.bytes)
    }
}

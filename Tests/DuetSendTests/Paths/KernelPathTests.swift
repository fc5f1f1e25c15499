import DuetSend
import Testing

/// The path tracker on real kernel streams: every path it resolves must exist in the snapshot
/// the fixture generator listed, and name the same inode.
@Suite struct KernelPathTests {
    /// Where a handle was taken, for messages.
    struct Sighting {
        var id: ObjectID
        var path: SendPath
        var command: SendCommandType
    }

    /// Runs a stream through the tracker, keeping the handle of every command's object (and of
    /// each CLONE source in this subvolume), as `duet send` would.
    static func track(_ name: String) throws -> (PathTracker, [Sighting]) {
        var tracker = PathTracker()
        var sightings: [Sighting] = []
        for command in try Fixtures.commands(name) {
            if command.type == .clone, try command.uuid(.cloneUUID) == tracker.subvolumeUUID {
                let path = try command.path(.clonePath)
                sightings.append(Sighting(id: try tracker.objectID(for: path), path: path, command: command.type))
            }
            let id = try tracker.handle(command)
            if let id, command.type != .subvol, command.type != .snapshot {
                sightings.append(Sighting(id: id, path: try command.path(), command: command.type))
            }
        }
        return (tracker, sightings)
    }

    static let nodataStreams = ["full-v1-nodata", "full-v2-nodata", "incr-v1-nodata", "incr-v2-nodata", "full2-v2-nodata"]
    static let dataStreams = ["full-v1", "full-v2", "incr-v1", "incr-v2", "compressed-v2"]

    @Test(arguments: nodataStreams)
    func everyUpdateExtentResolvesToAFileOfTheFinalTree(name: String) throws {
        let (tracker, sightings) = try Self.track(name)
        let manifest = try Manifest(Fixtures.snapshot(of: name))
        let updates = sightings.filter { $0.command == .updateExtent }
        #expect(!updates.isEmpty)
        for sighting in updates {
            let path = try #require(tracker.finalPath(of: sighting.id), "\(sighting.path) has no final path")
            let entry = try #require(manifest[path], "\(sighting.path) → \(path) is not in the snapshot")
            #expect(entry.type == "f")
            if let inode = tracker.inode(of: sighting.id) { #expect(inode == entry.inode, "\(path)") }
        }
    }

    @Test(arguments: dataStreams)
    func everyWriteAndCloneResolvesToAFileOfTheFinalTree(name: String) throws {
        let (tracker, sightings) = try Self.track(name)
        let manifest = try Manifest(Fixtures.snapshot(of: name))
        for sighting in sightings where [.write, .clone, .encodedWrite, .fallocate, .truncate].contains(sighting.command) {
            let path = try #require(tracker.finalPath(of: sighting.id), "\(sighting.path) has no final path")
            let entry = try #require(manifest[path], "\(sighting.path) → \(path) is not in the snapshot")
            #expect(entry.type == "f")
            if let inode = tracker.inode(of: sighting.id) { #expect(inode == entry.inode, "\(path)") }
        }
    }

    @Test(arguments: ["full-v1-nodata", "full-v2", "full2-v2-nodata", "compressed-v2"])
    func aFullStreamBuildsExactlyTheSnapshotsTree(name: String) throws {
        let (tracker, sightings) = try Self.track(name)
        let manifest = try Manifest(Fixtures.snapshot(of: name))
        var built: Set<SendPath> = [.root]
        for sighting in sightings {
            for path in tracker.paths(of: sighting.id) {
                built.insert(path)
                #expect(manifest[path]?.inode == tracker.inode(of: sighting.id), "\(path)")
            }
        }
        #expect(built == Set(manifest.entries.keys))
    }

    @Test(arguments: ["incr-v1-nodata", "incr-v2-nodata", "incr-v1", "incr-v2"])
    func anIncrementalStreamMapsParentPathsToTheSameInodes(name: String) throws {
        let (tracker, sightings) = try Self.track(name)
        let parent = try Manifest("snap1")
        let child = try Manifest("snap2")
        var checked = 0
        for sighting in sightings {
            guard case .exists(let path) = tracker.fate(of: sighting.id) else { continue }
            let entry = try #require(child[path], "\(sighting.path) → \(path) is not in the snapshot")
            switch tracker.origin(of: sighting.id) {
            case .preExisting(let original):
                // Same inode before and after: the tracker followed the object, not the name.
                let before = try #require(parent[original], "\(original) is not in the parent")
                #expect(before.inode == entry.inode, "\(original) → \(path)")
                checked += 1
            case .created:
                #expect(tracker.inode(of: sighting.id) == entry.inode, "\(path)")
            }
        }
        #expect(checked > 20)
    }

    @Test func knownMovesOfTheFixtureHistory() throws {
        // The history in make-send-fixtures, checked name by name.
        let (tracker, _) = try Self.track("incr-v2-nodata")
        var tracker2 = tracker
        let expectations: [(SendPath, SendPath)] = [
            ("x", "y"), ("y", "x"), ("swapA/fileA", "swapB/fileA"), ("swapB/fileB", "swapA/fileB"),
            ("p/c/leaf", "c/leaf"), ("hl_link", "hl_link")
        ]
        for (before, after) in expectations {
            // A parent path the stream moved is no longer reachable by its old name: look up the
            // object through the final tree instead and compare original paths.
            let id = try #require(tracker2.lookup(after) ?? (try? tracker2.objectID(for: after)))
            if case .preExisting(let original) = tracker2.origin(of: id) {
                #expect(original == before, "\(after)")
            } else {
                Issue.record("\(after) should be a pre-existing object")
            }
        }
    }
}

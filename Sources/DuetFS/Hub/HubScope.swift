/// Which events a task hears about: file systems by superblock device (`s_dev`, what every event
/// carries), each either whole or limited to some subvolumes by root id.
///
/// Root ids are what make a scope meaningful on btrfs: every subvolume and snapshot shares the
/// superblock device, and inode numbers repeat across them.
public struct HubScope: Hashable, Sendable {
    /// Device → the root ids in scope, or nil for every root of that file system.
    public private(set) var devices: [UInt32: Set<UInt64>?] = [:]

    public init() {}

    /// Every subvolume of the file system on `device`.
    public static func fileSystem(device: UInt32) -> HubScope {
        HubScope().adding(device: device)
    }

    /// Some subvolumes of the file system on `device`.
    public static func subvolumes(_ roots: Set<UInt64>, device: UInt32) -> HubScope {
        HubScope().adding(device: device, roots: roots)
    }

    /// Adds a file system (roots nil: all of it) or some of its roots; a whole file system already
    /// in scope stays whole.
    public func adding(device: UInt32, roots: Set<UInt64>? = nil) -> HubScope {
        var copy = self
        switch (copy.devices[device], roots) {
        case (.none, _):
            copy.devices[device] = .some(roots)
        case (.some(.none), _):
            break
        case (.some(.some(let existing)), .some(let more)):
            copy.devices[device] = .some(existing.union(more))
        case (.some(.some), .none):
            copy.devices[device] = .some(nil)
        }
        return copy
    }

    /// Whether an event from `device` and `root` is in scope. Root 0 means the source could not tell
    /// the subvolume: such an event belongs only to a scope that takes the whole file system, since
    /// attributing it to one subvolume would be a guess.
    public func contains(device: UInt32, root: UInt64) -> Bool {
        guard let roots = devices[device] else { return false }
        guard let roots else { return true }
        return root != 0 && roots.contains(root)
    }
}

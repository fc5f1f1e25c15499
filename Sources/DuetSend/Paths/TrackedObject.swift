/// A file, directory or other object in the receiver's tree, as the path tracker knows it.
/// Handed out when a path is seen and valid for the whole pass, whatever is renamed later.
public struct ObjectID: Hashable, Sendable, Comparable, CustomStringConvertible {
    public let index: Int
    public static func < (lhs: Self, rhs: Self) -> Bool { lhs.index < rhs.index }
    public var description: String { "#\(index)" }
}

/// What the stream told us about an object's type.
public enum ObjectKind: Hashable, Sendable {
    case directory
    case regularFile
    case symlink
    /// Device node, fifo or socket.
    case special
    /// A pre-existing object only named so far, never created or used as a directory.
    case unknown
}

/// Where an object came from.
public enum ObjectOrigin: Hashable, Sendable {
    /// Created by the command with this index (SUBVOL for the root of a full stream).
    case created(commandIndex: Int)
    /// Already in the parent snapshot (incremental streams): `originalPath` is its path there,
    /// derived from where it was first seen, so a caller can look it up in the parent.
    case preExisting(originalPath: SendPath)
}

/// What became of an object by the end of the stream.
public enum ObjectFate: Hashable, Sendable {
    /// It survives; for a hard-linked file, this is one of its surviving names.
    case exists(SendPath)
    /// It was removed: the stream removed its last name and we know it had no other.
    case deleted
    /// A pre-existing non-directory whose every name the stream mentioned was removed. It may
    /// still live under a name the stream never mentioned (another hard link from the parent);
    /// the caller can look it up by inode number in the sent snapshot.
    case unresolved(inode: UInt64?)
}

/// The identity the kernel encodes in orphan names `o<ino>-<gen>-<seq>`: inode numbers alone
/// are not unique within a stream, since a deleted inode's number can come back with a new
/// generation.
struct InodeIdentity: Hashable, Sendable {
    var inode: UInt64
    var generation: UInt64

    init(inode: UInt64, generation: UInt64) {
        self.inode = inode
        self.generation = generation
    }

    /// Parses a kernel orphan name (`gen_unique_name` in send.c), or returns nil.
    init?(orphanName name: [UInt8]) {
        guard name.first == UInt8(ascii: "o") else { return nil }
        let fields = name.dropFirst().split(separator: UInt8(ascii: "-"), omittingEmptySubsequences: false)
        guard fields.count == 3 else { return nil }
        var numbers: [UInt64] = []
        for field in fields {
            guard !field.isEmpty, field.count <= 20, field.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }),
                let number = UInt64(String(decoding: field, as: UTF8.self))
            else { return nil }
            numbers.append(number)
        }
        inode = numbers[0]
        generation = numbers[1]
    }
}

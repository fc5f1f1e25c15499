/// Storage for the path tracker, sized for a million-file stream (issue 14: a send within
/// 64 MiB + 200 bytes per data extent). A `TrackedObject` struct with its own arrays, a
/// dictionary of children per directory and a heap array per name cost some 500 bytes per
/// file; here an object is one fixed-size record, names are bytes in shared chunks, and
/// directory entries live in one hash table of 8-byte slots.

/// A name in a `NameArena`.
struct NameRef: Hashable, Sendable {
    /// Chunk index in the high 32 bits, offset inside the chunk in the low 32.
    var offset: UInt64
    var length: UInt16
}

/// Names stored back to back in 1 MiB chunks, never moved: one growing array would need
/// twice its size while it grows. A stream's path attribute is at most 65,535 bytes, so every
/// name fits a chunk.
struct NameArena: Sendable {
    static let chunkSize = 1 << 20
    private var chunks: [[UInt8]] = []

    mutating func store(_ name: [UInt8]) -> NameRef {
        precondition(name.count <= Int(UInt16.max), "a send stream name is at most 65,535 bytes")
        if chunks.isEmpty || chunks[chunks.count - 1].count + name.count > Self.chunkSize {
            var chunk: [UInt8] = []
            chunk.reserveCapacity(Self.chunkSize)
            chunks.append(chunk)
        }
        let last = chunks.count - 1
        let ref = NameRef(offset: UInt64(last) << 32 | UInt64(chunks[last].count), length: UInt16(name.count))
        chunks[last].append(contentsOf: name)
        return ref
    }

    func bytes(_ ref: NameRef) -> ArraySlice<UInt8> {
        let start = Int(ref.offset & 0xFFFF_FFFF)
        return chunks[Int(ref.offset >> 32)][start..<(start + Int(ref.length))]
    }

    func equals(_ ref: NameRef, _ name: [UInt8]) -> Bool {
        Int(ref.length) == name.count && bytes(ref).elementsEqual(name)
    }
}

/// An append-only array in chunks of 65,536 elements: growing never copies what is stored.
struct ChunkedArray<Element: Sendable>: Sendable {
    private static var shift: Int { 16 }
    private static var mask: Int { (1 << shift) - 1 }
    private var chunks: [[Element]] = []
    private(set) var count = 0

    mutating func append(_ element: Element) {
        if count & Self.mask == 0 {
            var chunk: [Element] = []
            chunk.reserveCapacity(1 << Self.shift)
            chunks.append(chunk)
        }
        chunks[chunks.count - 1].append(element)
        count += 1
    }

    subscript(index: Int) -> Element {
        get { chunks[index >> Self.shift][index & Self.mask] }
        set { chunks[index >> Self.shift][index & Self.mask] = newValue }
    }

    var elements: FlattenSequence<[[Element]]> { chunks.joined() }

    /// All elements as one array of exactly their count, each chunk freed once copied: never
    /// more than one chunk beyond the elements themselves.
    mutating func drain() -> [Element] {
        var all: [Element] = []
        all.reserveCapacity(count)
        for index in chunks.indices {
            all += chunks[index]
            chunks[index] = []
        }
        chunks = []
        count = 0
        return all
    }
}

/// One directory entry: the name `name` in directory `parent` (an object index).
struct LinkRef: Hashable, Sendable {
    var parent: UInt32
    var name: NameRef
}

/// The tracker's fixed-size record of one object; rarer facts (further hard links, a
/// pre-existing object's first name, merges, vacated names) live in side tables.
struct TrackedNode: Sendable {
    static let noParent = UInt32.max

    /// 0 while unknown (btrfs has no inode 0).
    var inode: UInt64 = 0
    /// Created: the command index. Pre-existing: the directory it was first seen in
    /// (`UInt64.max` for a subvolume root).
    var origin: UInt64
    /// The oldest current name, if any (`firstParent == noParent`: none).
    var firstName = NameRef(offset: 0, length: 0)
    var firstParent = noParent
    /// Entries the directory has in the child table.
    var childCount: UInt32 = 0
    var kind: ObjectKind
    var flags: Flags

    struct Flags: OptionSet, Sendable {
        let rawValue: UInt8
        static let subvolumeRoot = Flags(rawValue: 1)
        /// The stream removed a name with RMDIR or UNLINK (as opposed to never naming it).
        static let lostNameByRemoval = Flags(rawValue: 2)
        static let preExisting = Flags(rawValue: 4)
        static let merged = Flags(rawValue: 8)
    }

    var firstLink: LinkRef? {
        firstParent == Self.noParent ? nil : LinkRef(parent: firstParent, name: firstName)
    }
}

/// Every directory entry the tracker knows, in one open-addressing table with linear probing.
/// A slot holds 32 bits of the entry's hash and the child's index + 1 (0: empty); the name is
/// not stored here but checked against the child's links by the caller's `matches`.
struct ChildTable: Sendable {
    private var slots: [UInt64] = Array(repeating: 0, count: 1024)
    private(set) var count = 0
    private var mask: Int { slots.count - 1 }

    static func hash(parent: UInt32, name: [UInt8]) -> UInt32 {
        // Seeded per process: names are chosen by the snapshot's users.
        var hasher = Hasher()
        hasher.combine(parent)
        name.withUnsafeBytes { hasher.combine(bytes: $0) }
        return UInt32(truncatingIfNeeded: hasher.finalize())
    }

    /// The slot whose entry has `hash` and for whose child `matches` holds.
    func slot(hash: UInt32, matches: (UInt32) -> Bool) -> Int? {
        var index = Int(hash) & mask
        while slots[index] != 0 {
            if UInt32(truncatingIfNeeded: slots[index] >> 32) == hash, matches(child(at: index)) { return index }
            index = (index + 1) & mask
        }
        return nil
    }

    func child(at slot: Int) -> UInt32 { UInt32(truncatingIfNeeded: slots[slot] & 0xFFFF_FFFF) - 1 }

    mutating func replace(at slot: Int, child: UInt32) {
        slots[slot] = slots[slot] & 0xFFFF_FFFF_0000_0000 | UInt64(child + 1)
    }

    /// Adds an entry that is not in the table.
    mutating func insert(hash: UInt32, child: UInt32) {
        if (count + 1) * 10 > slots.count * 7 { grow() }
        var index = Int(hash) & mask
        while slots[index] != 0 { index = (index + 1) & mask }
        slots[index] = UInt64(hash) << 32 | UInt64(child + 1)
        count += 1
    }

    /// Removes the entry at `slot`, shifting later entries of the probe run back so every
    /// entry stays reachable from its home slot.
    mutating func remove(at slot: Int) {
        var hole = slot
        var index = slot
        while true {
            index = (index + 1) & mask
            guard slots[index] != 0 else { break }
            let home = Int(UInt32(truncatingIfNeeded: slots[index] >> 32)) & mask
            // The entry may fill the hole unless its home lies cyclically in (hole, index].
            let homeInBetween = hole <= index ? (home > hole && home <= index) : (home > hole || home <= index)
            if !homeInBetween {
                slots[hole] = slots[index]
                hole = index
            }
        }
        slots[hole] = 0
        count -= 1
    }

    /// Every occupied slot's child, with its slot (for the rare whole-table walk of a merge).
    func entries() -> [(slot: Int, child: UInt32)] {
        slots.indices.compactMap { slots[$0] == 0 ? nil : ($0, child(at: $0)) }
    }

    private mutating func grow() {
        let old = slots
        slots = Array(repeating: 0, count: old.count * 2)
        for value in old where value != 0 {
            var index = Int(UInt32(truncatingIfNeeded: value >> 32)) & mask
            while slots[index] != 0 { index = (index + 1) & mask }
            slots[index] = value
        }
    }
}

import DuetFS

/// One piece of file data to emit: a range of one file with one backing and one source.
public struct DataPiece: @unchecked Sendable {
    // @unchecked: for `alias`, whose open-file cache only the emitter's thread uses; the rest are values.
    public enum Source: String, Sendable, Codable {
        /// Zeros, written without reading (holes, prealloc).
        case zeros
        /// The snapshot's own cached pages.
        case ownCache
        /// Another inode's cached pages over the same disk extent, to be verified.
        case otherCache
        /// The snapshot, from disk.
        case disk
    }

    // Declared largest first: Swift lays fields out in this order, and a million-file plan
    // holds a million pieces (56 bytes each this way, 64 in the order one would read them).
    /// The file's inode number.
    public var inode: UInt64
    public var range: Range<UInt64>
    /// For `otherCache`: the subvolume whose file has the pages cached.
    public var alias: AliasSubvolume?
    public var backing: ExtentBacking
    public var source: Source
    /// The file, by its index in the send's `SnapshotFileTable`.
    public var file: UInt32

    public init(file: UInt32, inode: UInt64, range: Range<UInt64>, backing: ExtentBacking, source: Source, alias: AliasSubvolume? = nil) {
        self.file = file
        self.inode = inode
        self.range = range
        self.backing = backing
        self.source = source
        self.alias = alias
    }

    /// The same range, to be read from the snapshot on disk.
    func onDisk() -> DataPiece {
        DataPiece(file: file, inode: inode, range: range, backing: backing, source: .disk)
    }

    /// The same piece narrowed to `part` (inside `range`), its disk address moved along.
    func cut(to part: Range<UInt64>) -> DataPiece {
        var copy = self
        copy.range = part
        if case .plain(let logical) = backing {
            copy.backing = .plain(logical: logical + (part.lowerBound - range.lowerBound))
        }
        return copy
    }
}

/// Plan stage of the data: every `UPDATE_EXTENT` range cut into pieces by extent and by page
/// residency, each assigned the best source (DESIGN §3: own cache, other cache, disk).
/// Each file is opened while its ranges are planned and closed again (`SnapshotDescriptors`);
/// only its extent items of the file at hand are kept.
public struct DataPlanner {
    let fileSystem: FileSystem
    let root: UInt64
    /// Subvolumes that may share the snapshot's extents, best first (`AliasSubvolume.find`).
    let aliases: [AliasSubvolume]
    /// `--compressed-data`: compressed extents are read encoded (never from the page cache).
    public var encoded = false
    /// The files planned so far and their descriptors; the emitter reads through the same.
    public let files: SnapshotDescriptors
    /// The file the last range belonged to: a file's `UPDATE_EXTENT`s come one after the other.
    private var current: (file: UInt32, extents: FileExtents)?

    public init(fileSystem: FileSystem, snapshot: Int32, snapshotPath: String, root: UInt64, aliases: [AliasSubvolume]) {
        self.fileSystem = fileSystem
        self.root = root
        self.aliases = aliases
        files = SnapshotDescriptors(snapshot: snapshot, snapshotPath: snapshotPath)
    }

    private mutating func file(_ path: SendPath) throws -> (file: UInt32, extents: FileExtents) {
        if let current, files.table.hasPath(current.file, path) { return current }
        let file = try files.add(path: path)
        let extents = try FileExtents(fileSystem: fileSystem, root: root, inode: files.table.inode(file))
        current = (file, extents)
        return (file, extents)
    }

    /// Pieces of every range, apart by source; the emitter orders them.
    public mutating func plan(_ ranges: some Sequence<StreamPlan.DataRange>) throws -> PlannedPieces {
        if let list = ranges as? DataRangeList, files.table.count == 0 {
            // At most one file per range, and at most their paths.
            files.reserve(files: list.count, pathBytes: list.pathBytes)
        }
        var pieces = PlannedPieces()
        for range in ranges {
            let (file, extents) = try file(range.path)
            let inode = files.table.inode(file)
            let byteRange = range.offset..<(range.offset + range.length)
            for (part, backing) in extents.pieces(of: byteRange) {
                switch backing {
                case .hole:
                    pieces.append(DataPiece(file: file, inode: inode, range: part, backing: backing, source: .zeros))
                case .inline:
                    pieces.append(DataPiece(file: file, inode: inode, range: part, backing: backing, source: .ownCache))
                case .compressed:
                    let resident = try !encoded && PageResidency.isResident(descriptor: files.descriptor(of: file), range: part)
                    if !resident, !encoded, let alias = compressedAlias(inode: inode, extents: extents, range: part) {
                        pieces.append(DataPiece(file: file, inode: inode, range: part, backing: backing, source: .otherCache, alias: alias))
                    } else {
                        pieces.append(
                            DataPiece(file: file, inode: inode, range: part, backing: backing, source: resident ? .ownCache : .disk))
                    }
                case .plain(let logical):
                    for (run, resident) in PageResidency.runs(descriptor: try files.descriptor(of: file), range: part) {
                        let runBacking = ExtentBacking.plain(logical: logical + (run.lowerBound - part.lowerBound))
                        if resident {
                            pieces.append(DataPiece(file: file, inode: inode, range: run, backing: runBacking, source: .ownCache))
                        } else {
                            pieces += aliasSplit(file: file, inode: inode, run: run, logical: logical + (run.lowerBound - part.lowerBound))
                        }
                    }
                }
            }
        }
        return pieces
    }

    /// An alias subvolume whose file maps `range` to the same compressed extent at the same
    /// offset and has all of it cached. Compressed extents are checksummed as stored, so the
    /// decoded pages cannot be checked against the csum tree: the emitter accepts them only if
    /// the mapping is still the same and no page is dirty, before and after it reads them.
    private func compressedAlias(inode: UInt64, extents: FileExtents, range: Range<UInt64>) -> AliasSubvolume? {
        guard let source = extents.compressedSource(of: range) else { return nil }
        for alias in aliases {
            guard let aliasFile = alias.file(inode: inode), PageResidency.isResident(descriptor: aliasFile.descriptor, range: range),
                aliasFile.extents?.compressedSource(of: range) == source
            else { continue }
            return alias
        }
        return nil
    }

    /// A run the snapshot does not have cached: the parts that some alias subvolume's file maps
    /// to the same disk bytes and has cached become `otherCache` candidates (the first alias that
    /// has them wins), the rest `disk`.
    private func aliasSplit(file: UInt32, inode: UInt64, run: Range<UInt64>, logical: UInt64) -> [DataPiece] {
        var pieces: [DataPiece] = []
        var uncovered = [run]
        for alias in aliases where !uncovered.isEmpty {
            guard let aliasFile = alias.file(inode: inode) else { continue }
            var stillUncovered: [Range<UInt64>] = []
            for part in uncovered {
                // The page cache first: most alias files have nothing cached, and then their
                // extent items need no search.
                let runs = PageResidency.runs(descriptor: aliasFile.descriptor, range: part)
                let partLogical = logical + (part.lowerBound - run.lowerBound)
                guard runs.contains(where: { $0.1 }), aliasFile.extents?.plainLogical(of: part) == partLogical else {
                    stillUncovered.append(part)
                    continue
                }
                for (piece, resident) in runs {
                    if resident {
                        pieces.append(
                            DataPiece(
                                file: file, inode: inode, range: piece,
                                backing: .plain(logical: logical + (piece.lowerBound - run.lowerBound)),
                                source: .otherCache, alias: alias))
                    } else {
                        stillUncovered.append(piece)
                    }
                }
            }
            uncovered = stillUncovered
        }
        for part in uncovered {
            pieces.append(
                DataPiece(
                    file: file, inode: inode, range: part,
                    backing: .plain(logical: logical + (part.lowerBound - run.lowerBound)), source: .disk))
        }
        return pieces
    }
}

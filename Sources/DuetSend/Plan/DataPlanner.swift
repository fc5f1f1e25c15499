import DuetFS
import Glibc

/// A file of the snapshot that data is read from, opened by its final path.
public final class SnapshotFile: @unchecked Sendable {
    public let path: SendPath
    public let descriptor: Int32
    public let inode: UInt64
    public let extents: FileExtents

    init(snapshot: Int32, snapshotPath: String, path: SendPath, fileSystem: FileSystem, root: UInt64) throws {
        self.path = path
        let descriptor = (path.bytes + [0]).withUnsafeBufferPointer { name in
            name.withMemoryRebound(to: CChar.self) { openat(snapshot, $0.baseAddress!, O_RDONLY | O_CLOEXEC | O_NOFOLLOW) }
        }
        guard descriptor >= 0 else { throw DuetError.system("open", snapshotPath + "/" + path.description) }
        var status = stat()
        guard fstat(descriptor, &status) == 0 else {
            close(descriptor)
            throw DuetError.system("fstat", snapshotPath + "/" + path.description)
        }
        self.descriptor = descriptor
        inode = UInt64(status.st_ino)
        do {
            extents = try FileExtents(fileSystem: fileSystem, root: root, inode: inode)
        } catch {
            close(descriptor)
            throw error
        }
    }

    deinit { close(descriptor) }
}

/// One piece of file data to emit: a range of one file with one backing and one source.
public struct DataPiece: @unchecked Sendable {
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

    public var file: SnapshotFile
    public var range: Range<UInt64>
    public var backing: ExtentBacking
    public var source: Source
    /// For `otherCache`: the subvolume whose file has the pages cached.
    public var alias: AliasSubvolume?

    public init(file: SnapshotFile, range: Range<UInt64>, backing: ExtentBacking, source: Source, alias: AliasSubvolume? = nil) {
        self.file = file
        self.range = range
        self.backing = backing
        self.source = source
        self.alias = alias
    }

    /// The same range, to be read from the snapshot on disk.
    func onDisk() -> DataPiece {
        DataPiece(file: file, range: range, backing: backing, source: .disk)
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
public struct DataPlanner {
    let fileSystem: FileSystem
    let snapshot: Int32
    let snapshotPath: String
    let root: UInt64
    /// Subvolumes that may share the snapshot's extents, best first (`AliasSubvolume.find`).
    let aliases: [AliasSubvolume]
    /// `--compressed-data`: compressed extents are read encoded (never from the page cache).
    public var encoded = false
    private var files: [SendPath: SnapshotFile] = [:]

    public init(fileSystem: FileSystem, snapshot: Int32, snapshotPath: String, root: UInt64, aliases: [AliasSubvolume]) {
        self.fileSystem = fileSystem
        self.snapshot = snapshot
        self.snapshotPath = snapshotPath
        self.root = root
        self.aliases = aliases
    }

    mutating func file(_ path: SendPath) throws -> SnapshotFile {
        if let file = files[path] { return file }
        let file = try SnapshotFile(snapshot: snapshot, snapshotPath: snapshotPath, path: path, fileSystem: fileSystem, root: root)
        files[path] = file
        return file
    }

    /// Pieces of every range, in no particular order; the emitter orders them by source.
    public mutating func plan(_ ranges: [StreamPlan.DataRange]) throws -> [DataPiece] {
        var pieces: [DataPiece] = []
        for range in ranges {
            let file = try file(range.path)
            let byteRange = range.offset..<(range.offset + range.length)
            for (part, backing) in file.extents.pieces(of: byteRange) {
                switch backing {
                case .hole:
                    pieces.append(DataPiece(file: file, range: part, backing: backing, source: .zeros))
                case .inline:
                    pieces.append(DataPiece(file: file, range: part, backing: backing, source: .ownCache))
                case .compressed:
                    let resident = !encoded && PageResidency.isResident(descriptor: file.descriptor, range: part)
                    if !resident, !encoded, let alias = compressedAlias(file: file, range: part) {
                        pieces.append(DataPiece(file: file, range: part, backing: backing, source: .otherCache, alias: alias))
                    } else {
                        pieces.append(DataPiece(file: file, range: part, backing: backing, source: resident ? .ownCache : .disk))
                    }
                case .plain(let logical):
                    for (run, resident) in PageResidency.runs(descriptor: file.descriptor, range: part) {
                        let runBacking = ExtentBacking.plain(logical: logical + (run.lowerBound - part.lowerBound))
                        if resident {
                            pieces.append(DataPiece(file: file, range: run, backing: runBacking, source: .ownCache))
                        } else {
                            pieces += aliasSplit(file: file, run: run, logical: logical + (run.lowerBound - part.lowerBound))
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
    private func compressedAlias(file: SnapshotFile, range: Range<UInt64>) -> AliasSubvolume? {
        guard let source = file.extents.compressedSource(of: range) else { return nil }
        for alias in aliases {
            guard let aliasFile = alias.file(inode: file.inode), aliasFile.extents.compressedSource(of: range) == source,
                  PageResidency.isResident(descriptor: aliasFile.descriptor, range: range) else { continue }
            return alias
        }
        return nil
    }

    /// A run the snapshot does not have cached: the parts that some alias subvolume's file maps
    /// to the same disk bytes and has cached become `otherCache` candidates (the first alias that
    /// has them wins), the rest `disk`.
    private func aliasSplit(file: SnapshotFile, run: Range<UInt64>, logical: UInt64) -> [DataPiece] {
        var pieces: [DataPiece] = []
        var uncovered = [run]
        for alias in aliases where !uncovered.isEmpty {
            guard let aliasFile = alias.file(inode: file.inode) else { continue }
            var stillUncovered: [Range<UInt64>] = []
            for part in uncovered {
                let partLogical = logical + (part.lowerBound - run.lowerBound)
                guard aliasFile.extents.plainLogical(of: part) == partLogical else {
                    stillUncovered.append(part)
                    continue
                }
                for (piece, resident) in PageResidency.runs(descriptor: aliasFile.descriptor, range: part) {
                    if resident {
                        pieces.append(DataPiece(file: file, range: piece, backing: .plain(logical: logical + (piece.lowerBound - run.lowerBound)),
                                                source: .otherCache, alias: alias))
                    } else {
                        stillUncovered.append(piece)
                    }
                }
            }
            uncovered = stillUncovered
        }
        for part in uncovered {
            pieces.append(DataPiece(file: file, range: part, backing: .plain(logical: logical + (part.lowerBound - run.lowerBound)), source: .disk))
        }
        return pieces
    }
}

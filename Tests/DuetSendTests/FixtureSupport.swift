import DuetSend
import Foundation

/// The kernel streams captured by `scripts/fixtures/make-send-fixtures`, found next to this file
/// so that the tests need no resource bundle.
enum Fixtures {
    static let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures")

    /// Every captured stream, by name (without `.stream`).
    static let streamNames = [
        "full-v1", "full-v2", "full-v1-nodata", "full-v2-nodata",
        "incr-v1", "incr-v2", "incr-v1-nodata", "incr-v2-nodata",
        "full2-v2-nodata", "compressed-v2"
    ]

    static func stream(_ name: String) throws -> [UInt8] {
        [UInt8](try Data(contentsOf: directory.appendingPathComponent("\(name).stream")))
    }

    static func commands(_ name: String) throws -> [SendCommand] {
        var reader = SendStreamReader(source: ByteBufferSource(try stream(name)))
        return try reader.readAll()
    }

    /// The command names `btrfs receive --dump` printed, one per command except END.
    static func dumpCommandNames(_ name: String) throws -> [String] {
        let text = String(decoding: try Data(contentsOf: directory.appendingPathComponent("\(name).dump")), as: UTF8.self)
        return text.split(separator: "\n").map { String($0.prefix { $0 != " " }) }
    }

    /// The snapshot a stream sends, whose manifest describes the tree at the end of the stream.
    static func snapshot(of stream: String) -> String {
        if stream.hasPrefix("full2") || stream.hasPrefix("incr") { return "snap2" }
        if stream.hasPrefix("compressed") { return "csnap" }
        return "snap1"
    }
}

/// One file of a snapshot as the fixture generator listed it with `find -printf`.
struct ManifestEntry: Hashable {
    var type: Character
    var inode: UInt64
    var links: Int
    var size: UInt64
    var path: SendPath
}

/// A snapshot's files by path (bytes, so non-UTF-8 names survive).
struct Manifest {
    var entries: [SendPath: ManifestEntry] = [:]

    init(_ name: String) throws {
        let bytes = [UInt8](try Data(contentsOf: Fixtures.directory.appendingPathComponent("\(name).manifest")))
        for record in bytes.split(separator: 0, omittingEmptySubsequences: true) {
            let fields = record.split(separator: UInt8(ascii: "\t"), maxSplits: 4, omittingEmptySubsequences: false)
            guard fields.count == 5 else { continue }
            func number(_ field: ArraySlice<UInt8>) -> UInt64 { UInt64(String(decoding: field, as: UTF8.self)) ?? 0 }
            let entry = ManifestEntry(
                type: Character(UnicodeScalar(fields[0].first ?? 0)),
                inode: number(fields[1]), links: Int(number(fields[2])), size: number(fields[3]),
                path: SendPath(bytes: Array(fields[4])))
            entries[entry.path] = entry
        }
    }

    subscript(path: SendPath) -> ManifestEntry? { entries[path] }
}

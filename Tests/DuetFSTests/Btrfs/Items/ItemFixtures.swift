import DuetFS
import Foundation

/// Raw items captured from a real file system (`duet debug tree-items`) beside btrfs-progs'
/// `dump-tree` text of the same frozen trees; see scripts/fixtures/make-item-fixtures.
struct ItemFixture {
    struct Raw {
        let key: BtrfsKey
        let data: [UInt8]
    }

    /// One item as dump-tree printed it: its key words and the lines below the key line.
    struct Dumped {
        let objectID: String
        let typeName: String
        let offset: String
        let size: Int
        let lines: [String]

        var text: String { lines.joined(separator: "\n") }

        /// The integer after `name` in the item's text (the first occurrence), e.g. `value("refs")`.
        func value(_ name: String, after anchor: String? = nil) -> UInt64? {
            var text = self.text
            if let anchor, let range = text.range(of: anchor) { text = String(text[range.upperBound...]) }
            let words = text.split(whereSeparator: { $0 == " " || $0 == "\n" || $0 == "\t" }).map(String.init)
            for (index, word) in words.enumerated().dropLast() where word == name {
                if let number = UInt64(words[index + 1]) { return number }
            }
            return nil
        }
    }

    let raw: [Raw]
    let dumped: [Dumped]

    static let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("Fixtures/items")

    init(tree: UInt64) throws {
        let items = try String(contentsOf: Self.directory.appendingPathComponent("tree-\(tree).items"), encoding: .utf8)
        raw = items.split(separator: "\n").map { line in
            let fields = line.split(separator: " ")
            let hex = fields.count > 4 ? Array(fields[4].utf8) : []
            let data = stride(from: 0, to: hex.count, by: 2).map { UInt8(String(decoding: hex[$0..<($0 + 2)], as: UTF8.self), radix: 16)! }
            return Raw(key: BtrfsKey(UInt64(fields[0])!, UInt8(fields[1])!, UInt64(fields[2])!), data: data)
        }
        let dump = try String(contentsOf: Self.directory.appendingPathComponent("tree-\(tree).dump"), encoding: .utf8)
        var dumped: [Dumped] = []
        var header: (String, String, String, Int)?
        var lines: [String] = []
        func finish() {
            if let (objectID, type, offset, size) = header {
                dumped.append(Dumped(objectID: objectID, typeName: type, offset: offset, size: size, lines: lines))
            }
            header = nil
            lines = []
        }
        for line in dump.split(separator: "\n").map(String.init) {
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            if trimmed.hasPrefix("item "), let open = trimmed.firstIndex(of: "("), let close = trimmed.firstIndex(of: ")") {
                finish()
                let key = trimmed[trimmed.index(after: open)..<close].split(separator: " ").map(String.init)
                let size = Int(trimmed.split(separator: " ").last!)!
                header = (key[0], key[1], key[2], size)
            } else if line.hasPrefix("\t\t") {
                lines.append(trimmed)
            } else {
                finish()
            }
        }
        finish()
        self.dumped = dumped
    }

    /// Object ids dump-tree prints by name.
    static func objectID(_ word: String) -> UInt64? {
        let names: [String: UInt64] = [
            "ROOT_TREE": 1, "EXTENT_TREE": 2, "CHUNK_TREE": 3, "DEV_TREE": 4, "FS_TREE": 5, "ROOT_TREE_DIR": 6,
            "CSUM_TREE": 7, "QUOTA_TREE": 8, "UUID_TREE": 9, "FREE_SPACE_TREE": 10, "BLOCK_GROUP_TREE": 11,
            "DEV_ITEMS": 1, "FIRST_CHUNK_TREE": 256, "DEV_STATS": 0,
            "DATA_RELOC_TREE": UInt64(bitPattern: -9), "EXTENT_CSUM": UInt64(bitPattern: -10)
        ]
        return UInt64(word) ?? names[word]
    }
}

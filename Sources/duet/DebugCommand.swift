import ArgumentParser
import DuetFS

/// Developer tools, hidden from help: dumps raw tree items so fixtures can be captured from
/// real file systems (scripts/fixtures/make-item-fixtures).
struct DebugCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "debug",
        abstract: "Developer tools (raw tree items).",
        shouldDisplay: false,
        subcommands: [TreeItemsCommand.self]
    )
}

struct TreeItemsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tree-items",
        abstract: "Print every item of a tree as `objectid type offset transid hex`, one per line."
    )

    @Argument(help: "The mount point of a btrfs file system.")
    var mount: String

    @Option(help: "The tree id (1 root, 2 extent, 3 chunk, 4 dev, 5 fs, 7 csum, 256… subvolumes).")
    var tree: UInt64

    func run() throws {
        let fileSystem = try FileSystem(path: mount)
        try Terminal.requireRoot(for: "duet debug tree-items")
        try fileSystem.search(tree: tree).forEach { item in
            let hex = item.data.map { byte in byte < 16 ? "0" + String(byte, radix: 16) : String(byte, radix: 16) }.joined()
            print("\(item.key.objectID) \(item.key.type) \(item.key.offset) \(item.transid) \(hex)")
        }
    }
}

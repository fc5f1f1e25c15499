import Foundation

@testable import DuetFS

/// A fresh state directory per test, removed when the value goes away.
final class LedgerScratch {
    let root: String
    let fileSystem = FileSystemID("0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0")!

    init() {
        let base = NSTemporaryDirectory().hasSuffix("/") ? NSTemporaryDirectory() : NSTemporaryDirectory() + "/"
        var template = Array((base + "duet-ledger-XXXXXX").utf8CString)
        root = template.withUnsafeMutableBufferPointer { String(cString: mkdtemp($0.baseAddress!)!) }
    }

    deinit { try? FileManager.default.removeItem(atPath: root) }

    /// The ledger's own directory, one level below, so tests also exercise its creation.
    var directory: String { root + "/" + fileSystem.description }
    var journalPath: String { directory + "/journal" }
    var snapshotPath: String { directory + "/snapshot" }

    func open(_ options: LedgerOptions = LedgerOptions()) throws -> Ledger {
        try Ledger.open(fileSystem: fileSystem, directory: directory, options: options)
    }

    func bytes(_ path: String) -> [UInt8] { [UInt8](FileManager.default.contents(atPath: path) ?? Data()) }

    func write(_ bytes: [UInt8], to path: String) {
        precondition(FileManager.default.createFile(atPath: path, contents: Data(bytes)))
    }
}

/// A lookup double: a fixed list of current extents.
struct FixedExtents: ExtentGenerationLookup {
    var extents: [ExtentGeneration]

    func extents(overlapping range: Range<UInt64>) throws -> [ExtentGeneration] {
        extents.filter { $0.range.overlaps(range) }
    }
}

let MiB: UInt64 = 1 << 20
let GiB: UInt64 = 1 << 30
let TiB: UInt64 = 1 << 40

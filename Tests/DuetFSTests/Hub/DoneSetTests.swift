import Testing

@testable import DuetFS

@Suite("DoneSet")
struct DoneSetTests {
    @Test("domains are independent: a file's pages, a subvolume's inodes, logical bytes")
    func domainsAreIndependent() {
        var done = DoneSet()
        done.markDone(0..<10, in: .file(root: 256, inode: 257))
        done.markDone(257..<258, in: .subvolume(256))
        done.markDone(4096..<8192, in: .logical)
        #expect(done.isDone(0..<10, in: .file(root: 256, inode: 257)))
        #expect(!done.isDone(0..<10, in: .file(root: 257, inode: 257)), "same inode number in another subvolume")
        #expect(done.isDone(257..<258, in: .subvolume(256)))
        #expect(!done.isDone(257..<258, in: .subvolume(5)))
        #expect(done.isDone(4096..<8192, in: .logical))
        #expect(!done.isDone(0..<4096, in: .logical))
    }

    @Test("unmark, partial checks, and empty ranges")
    func unmarkAndPartial() {
        var done = DoneSet()
        let file = DoneDomain.file(root: 5, inode: 300)
        done.markDone(0..<100, in: file)
        done.markUndone(40..<60, in: file)
        #expect(!done.isDone(0..<100, in: file))
        #expect(done.isAnyDone(30..<50, in: file))
        #expect(done.undone(0..<100, in: file) == [40..<60])
        #expect(done.isDone(0..<0, in: file))
        done.markUndone(0..<100, in: file)
        #expect(done.isEmpty, "an emptied domain is dropped, not kept as an empty set")
    }

    @Test("a whole-file done mark costs one range")
    func compact() {
        var done = DoneSet()
        for page in stride(from: UInt64(0), to: 262_144, by: 32) { done.markDone(page..<page + 32, in: .file(root: 5, inode: 9)) }
        #expect(done.rangeCount == 1)
    }
}

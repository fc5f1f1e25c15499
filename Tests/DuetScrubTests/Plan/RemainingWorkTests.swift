import Testing

@testable import DuetScrub

@Suite struct RemainingWorkTests {
    @Test("bytes of the device extents at or after an offset, in any order given")
    func bytesFrom() {
        let work = RemainingWork(spans: [300..<400, 0..<100, 150..<200])
        #expect(work.bytes(from: 0) == 250)
        #expect(work.bytes(from: 50) == 200)
        #expect(work.bytes(from: 100) == 150)  // in the gap before the second
        #expect(work.bytes(from: 175) == 125)
        #expect(work.bytes(from: 399) == 1)
        #expect(work.bytes(from: 400) == 0)
        #expect(RemainingWork(spans: []).bytes(from: 0) == 0)
    }
}

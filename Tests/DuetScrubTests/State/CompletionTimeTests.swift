import Foundation
import Testing

@testable import DuetScrub

@Suite struct CompletionTimeTests {
    @Test("the completion is the next whole second, recorded once the clock has reached it")
    func waitsForNextSecond() {
        final class Clock: @unchecked Sendable { var now = 1_700_000_000.25 }
        let clock = Clock()
        var slept: [Double] = []
        let time = CompletionTime.afterOwnCredits(
            now: { Date(timeIntervalSince1970: clock.now) },
            sleep: {
                slept.append($0); clock.now += $0
            })
        #expect(time == 1_700_000_001)
        #expect(clock.now >= 1_700_000_001, "no credit made after it can carry an older second")
        #expect(slept.allSatisfy { $0 <= Throttle.slice + 1e-9 })
    }
}

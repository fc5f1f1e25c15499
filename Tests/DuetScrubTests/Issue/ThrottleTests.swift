import Testing

@testable import DuetScrub

@Suite struct ThrottleTests {
    @Test("a wait gives up as soon as it is told to stop, whatever the rate")
    func stopsAtAnyRate() {
        let throttle = Throttle(bytesPerSecond: 1024)
        // One 4 MiB read at 1 KiB/s owes over an hour; a stop request must end the wait.
        #expect(throttle.consume(4 << 20, stop: { true }) == false)
        #expect(throttle.debit(0) > 3600, "the debt stays: the next read waits for it")
    }

    @Test("the bucket never holds more than a second's bytes: the rest of a read is charged as wait")
    func debits() {
        let throttle = Throttle(bytesPerSecond: 1 << 20)
        #expect(throttle.debit(4 << 20) >= 3)
        #expect(throttle.consume(0, stop: { true }) == false)
    }
}

import DuetTestSupport
import Foundation
import Synchronization
import Testing

@testable import DuetFS

@Suite("Event recording and replay")
struct EventRecordingTests {
    static func sampleEvents(_ count: Int, seed: UInt64 = 1) -> [CacheEvent] {
        var state = seed
        func next() -> UInt64 {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return state >> 17
        }
        return (0..<count).map { i in
            let kind = CacheEvent.Kind.allCases[Int(next() % 6)]
            return CacheEvent(
                kind: kind, device: 42 << 0, root: [5, 256, 257, UInt64(1) << 40][i % 4], inode: 256 + next() % 10_000,
                firstPage: next() % (1 << 30), pageCount: 1 << (next() % 4),
                logical: kind == .extentWritten ? next() << 12 : 0)
        }
    }

    static func temporaryPath() -> String {
        NSTemporaryDirectory() + "/duet-recording-\(getpid())-\(UInt64.random(in: 0...UInt64.max)).events"
    }

    @Test("a recording reads back every batch, event and time, compactly")
    func roundTrip() throws {
        let path = Self.temporaryPath()
        defer { unlink(path) }
        let recorder = try EventRecorder(path: path)
        let batches = (0..<20).map { Self.sampleEvents(500, seed: UInt64($0)) }
        for (i, batch) in batches.enumerated() { recorder.record(batch, at: UInt64(i) * 1_000_000) }
        try recorder.close()
        let recording = try EventRecording.read(path: path)
        #expect(recording.version == 1)
        #expect(recording.discardedBytes == 0)
        #expect(recording.batches.map(\.events) == batches)
        #expect(recording.batches.map(\.time) == (0..<20).map { UInt64($0) * 1_000_000 })
        let size = try FileManager.default.attributesOfItem(atPath: path)[.size] as! Int
        // Random 30-bit page numbers and 40-bit roots are the worst case; still under 20 bytes an event.
        #expect(size < 20 * 10_000)
    }

    @Test("a torn tail is dropped and reported; a bad header is refused")
    func tornTail() throws {
        var bytes = EventRecordingFormat.encodeHeader(startWallNanoseconds: 5)
        EventRecordingFormat.encodeFrame(Self.sampleEvents(10), time: 1, into: &bytes)
        let whole = bytes.count
        EventRecordingFormat.encodeFrame(Self.sampleEvents(10, seed: 2), time: 2, into: &bytes)
        let torn = Array(bytes[0..<(bytes.count - 3)])
        let recording = try EventRecording.decode(torn)
        #expect(recording.batches.count == 1)
        #expect(recording.discardedBytes == torn.count - whole)
        var flipped = bytes
        flipped[whole + 25] ^= 0x40
        #expect(try EventRecording.decode(flipped).batches.count == 1)
        #expect(throws: DuetError.self) { try EventRecording.decode(Array("not a recording at all, no header".utf8)) }
    }

    @Test("the tee records what a source delivers and passes it on; replay delivers it again")
    func teeAndReplay() throws {
        let path = Self.temporaryPath()
        defer { unlink(path) }
        let batches = (0..<5).map { Self.sampleEvents(100, seed: UInt64($0)) }
        let original = ReplaySource(
            recording: EventRecording(
                version: 1, startWallNanoseconds: 0,
                batches: batches.enumerated().map { .init(time: UInt64($0.offset) * 10_000_000, events: $0.element) },
                discardedBytes: 0))
        let recorder = try EventRecorder(path: path)
        let tee = recorder.tee(original)
        let passed = Shared<[[CacheEvent]]>([])
        try tee.start { batch in passed.value.withLock { $0.append(batch) } }
        original.waitUntilFinished()
        tee.stop()
        #expect(passed.value.withLock { $0 } == batches)
        try recorder.close()

        let replay = try ReplaySource(path: path)
        let replayed = Shared<[[CacheEvent]]>([])
        try replay.start { batch in replayed.value.withLock { $0.append(batch) } }
        replay.waitUntilFinished()
        #expect(replayed.value.withLock { $0 } == batches)
        #expect(replay.statistics.delivered == 500)
    }

    @Test("paced replay keeps the recorded spacing")
    func pacedReplay() throws {
        let recording = EventRecording(
            version: 1, startWallNanoseconds: 0,
            batches: [
                .init(time: 0, events: Self.sampleEvents(1)),
                .init(time: 300_000_000, events: Self.sampleEvents(1, seed: 3))
            ], discardedBytes: 0)
        let times = Shared<[UInt64]>([])
        let replay = ReplaySource(recording: recording, pacing: .recorded(speed: 1))
        try replay.start { _ in times.value.withLock { $0.append(SystemClock.monotonicNanoseconds()) } }
        replay.waitUntilFinished()
        let seen = times.value.withLock { $0 }
        #expect(seen.count == 2)
        if seen.count == 2 { #expect(seen[1] - seen[0] >= 280_000_000) }

        // Scaled: an hour recorded between two batches, replayed 100 000 times faster, is 36 ms
        // apart, not an hour (not a bound on how fast it runs: only that it ends at all).
        let hour = EventRecording(
            version: 1, startWallNanoseconds: 0,
            batches: [
                .init(time: 0, events: Self.sampleEvents(1)),
                .init(time: 3_600_000_000_000, events: Self.sampleEvents(1, seed: 3))
            ], discardedBytes: 0)
        let fastTimes = Shared<[UInt64]>([])
        let fast = ReplaySource(recording: hour, pacing: .recorded(speed: 100_000))
        try fast.start { _ in fastTimes.value.withLock { $0.append(SystemClock.monotonicNanoseconds()) } }
        let finished = Eventually.poll(timeout: 60) { fast.isFinished }
        fast.stop()
        #expect(finished, "an hour replayed 100 000 times faster was still running after 60 s")
        let fastSeen = fastTimes.value.withLock { $0 }
        #expect(fastSeen.count == 2)
        if fastSeen.count == 2 { #expect(fastSeen[1] - fastSeen[0] >= 34_000_000, "the scaled spacing is kept") }
    }
}

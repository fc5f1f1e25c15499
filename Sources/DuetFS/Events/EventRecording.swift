import CDuet
import Glibc
import Synchronization
import SystemPackage

/// The on-disk format of an event recording, version 1 (little endian throughout):
///
/// ```
/// header (32 bytes): "DUETEVTS" | u16 version = 1 | u16 header size = 32 | u32 reserved
///                    | u64 start, wall clock (ns since the epoch) | u64 reserved
/// frame, one per delivered batch:
///   u32 payload bytes | u32 event count | u64 time since start (ns, monotonic) | u32 crc32c(payload)
///   payload: per event  u8 kind | varint device | varint root | varint inode
///                       | varint first page | varint page count | varint logical (extentWritten only)
/// ```
/// About 10–14 bytes per event. A frame whose length runs past the end of the file or whose CRC
/// does not match ends the recording (a torn tail after a crash), and is reported.
public enum EventRecordingFormat {
    public static let magic: [UInt8] = Array("DUETEVTS".utf8)
    public static let version: UInt16 = 1
    public static let headerSize = 32
    static let frameHeaderSize = 20

    static func encodeHeader(startWallNanoseconds: UInt64) -> [UInt8] {
        var out = magic
        out.appendLittleEndian(version)
        out.appendLittleEndian(UInt16(headerSize))
        out.appendLittleEndian(UInt32(0))
        out.appendLittleEndian(startWallNanoseconds)
        out.appendLittleEndian(UInt64(0))
        return out
    }

    static func encodeFrame(_ events: [CacheEvent], time: UInt64, into out: inout [UInt8]) {
        var payload: [UInt8] = []
        payload.reserveCapacity(events.count * 12)
        for event in events {
            payload.append(event.kind.rawValue)
            payload.appendVarint(UInt64(event.device))
            payload.appendVarint(event.root)
            payload.appendVarint(event.inode)
            payload.appendVarint(event.firstPage)
            payload.appendVarint(event.pageCount)
            if event.kind == .extentWritten { payload.appendVarint(event.logical) }
        }
        out.appendLittleEndian(UInt32(payload.count))
        out.appendLittleEndian(UInt32(events.count))
        out.appendLittleEndian(time)
        out.appendLittleEndian(payload.withUnsafeBytes { ~duet_crc32c_update(~0, $0.baseAddress, $0.count) })
        out.append(contentsOf: payload)
    }

    static func decodeEvents(_ payload: ArraySlice<UInt8>, count: Int) -> [CacheEvent]? {
        var at = payload.startIndex
        func varint() -> UInt64? {
            var value: UInt64 = 0
            var shift: UInt64 = 0
            while at < payload.endIndex, shift < 64 {
                let byte = payload[at]
                at += 1
                value |= UInt64(byte & 0x7F) << shift
                if byte & 0x80 == 0 { return value }
                shift += 7
            }
            return nil
        }
        var events: [CacheEvent] = []
        events.reserveCapacity(count)
        for _ in 0..<count {
            guard at < payload.endIndex, let kind = CacheEvent.Kind(rawValue: payload[at]) else { return nil }
            at += 1
            guard let device = varint(), device <= UInt64(UInt32.max), let root = varint(), let inode = varint(),
                let first = varint(), let pages = varint()
            else { return nil }
            var logical: UInt64 = 0
            if kind == .extentWritten {
                guard let value = varint() else { return nil }
                logical = value
            }
            events.append(
                CacheEvent(
                    kind: kind, device: UInt32(device), root: root, inode: inode,
                    firstPage: first, pageCount: pages, logical: logical))
        }
        return at == payload.endIndex ? events : nil
    }
}

/// Writes event batches to a recording (format in `EventRecordingFormat`), buffered, from any
/// thread. `flush` writes and fsyncs; `close` flushes and closes. Use `tee(_:)` to record what any
/// source delivers while passing it on.
public final class EventRecorder: Sendable {
    public let path: String
    private let startNanoseconds: UInt64

    private struct State {
        var fd: Int32
        var buffer: [UInt8] = []
        var events: UInt64 = 0
        var bytes: UInt64 = 0
        var error: DuetError?
    }

    private let state: Mutex<State>
    private static let bufferLimit = 1 << 20

    /// Creates (or truncates) the recording at `path`.
    public init(path: String) throws {
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw DuetError.system("open", path) }
        self.path = path
        startNanoseconds = SystemClock.monotonicNanoseconds()
        var wall = timespec()
        clock_gettime(CLOCK_REALTIME, &wall)
        let header = EventRecordingFormat.encodeHeader(startWallNanoseconds: UInt64(wall.tv_sec) * 1_000_000_000 + UInt64(wall.tv_nsec))
        state = Mutex(State(fd: fd, buffer: header))
    }

    deinit {
        // A deinit cannot throw; owners that need the error call close().
        try? close()
    }

    /// Appends one batch as one frame, stamped with the time since the recorder was created.
    public func record(_ events: [CacheEvent]) {
        guard !events.isEmpty else { return }
        let time = SystemClock.monotonicNanoseconds() - startNanoseconds
        record(events, at: time)
    }

    /// Appends one batch stamped `nanoseconds` after the start (for tests and conversions).
    public func record(_ events: [CacheEvent], at nanoseconds: UInt64) {
        state.withLock { state in
            guard state.fd >= 0 else { return }
            EventRecordingFormat.encodeFrame(events, time: nanoseconds, into: &state.buffer)
            state.events += UInt64(events.count)
            if state.buffer.count >= Self.bufferLimit {
                do throws(DuetError) { try Self.write(&state, path: path) } catch { state.error = error }
            }
        }
    }

    public var recordedEvents: UInt64 { state.withLock { $0.events } }

    /// Bytes written so far plus buffered.
    public var recordedBytes: UInt64 { state.withLock { $0.bytes + UInt64($0.buffer.count) } }

    /// Writes what is buffered and fsyncs; reports an earlier background write failure.
    public func flush() throws(DuetError) {
        try state.withLock { (state: inout State) throws(DuetError) in
            if let error = state.error { throw error }
            guard state.fd >= 0 else { return }
            try Self.write(&state, path: path)
            if fsync(state.fd) != 0 { throw DuetError.system("fsync", path) }
        }
    }

    public func close() throws(DuetError) {
        try flush()
        state.withLock { state in
            if state.fd >= 0 { Glibc.close(state.fd) }
            state.fd = -1
        }
    }

    private static func write(_ state: inout State, path: String) throws(DuetError) {
        let total = state.buffer.count
        do {
            try FileDescriptor(rawValue: state.fd).writeAll(state.buffer)
        } catch {
            throw DuetError.system("write", path, error)
        }
        state.bytes += UInt64(total)
        state.buffer.removeAll(keepingCapacity: true)
    }

    /// `source`, with every batch it delivers recorded here first.
    public func tee(_ source: any EventSource) -> RecordingEventSource {
        RecordingEventSource(source: source, recorder: self)
    }
}

/// Passes a source's batches on unchanged after recording them.
public final class RecordingEventSource: EventSource {
    public let source: any EventSource
    public let recorder: EventRecorder

    init(source: any EventSource, recorder: EventRecorder) {
        self.source = source
        self.recorder = recorder
    }

    public var name: String { source.name + "+recording" }

    public func start(deliver: @escaping @Sendable ([CacheEvent]) -> Void) throws {
        let recorder = recorder
        try source.start { batch in
            recorder.record(batch)
            deliver(batch)
        }
    }

    public func stop() {
        source.stop()
        // stop() cannot throw: what fails to write stays buffered, and the owner's close() writes it
        // again and reports the error.
        try? recorder.flush()
    }

    public var statistics: EventSourceStatistics { source.statistics }
}

/// A recording read back: its batches with their times.
public struct EventRecording: Sendable {
    public struct Batch: Sendable, Equatable {
        /// Nanoseconds since the recording started.
        public var time: UInt64
        public var events: [CacheEvent]
    }

    public var version: UInt16
    public var startWallNanoseconds: UInt64
    public var batches: [Batch]
    /// Bytes at the end that did not form a whole, intact frame (a torn tail), 0 normally.
    public var discardedBytes: Int

    public var events: [CacheEvent] { batches.flatMap(\.events) }

    public static func read(path: String) throws -> EventRecording {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw DuetError.system("open", path) }
        defer { close(fd) }
        let bytes: [UInt8]
        do {
            bytes = try FileDescriptor(rawValue: fd).readAll(chunkSize: 1 << 20)
        } catch {
            throw DuetError.system("read", path, error)
        }
        return try decode(bytes, path: path)
    }

    public static func decode(_ bytes: [UInt8], path: String = "recording") throws -> EventRecording {
        guard bytes.count >= EventRecordingFormat.headerSize, Array(bytes[0..<8]) == EventRecordingFormat.magic else {
            throw DuetError.malformed("\(path) is not a Duet event recording (no DUETEVTS header)")
        }
        let version = bytes.littleEndian(UInt16.self, at: 8)
        guard version == EventRecordingFormat.version else {
            throw DuetError(
                .unsupported,
                "\(path) is an event recording of version \(version); this build reads version \(EventRecordingFormat.version)")
        }
        let headerSize = Int(bytes.littleEndian(UInt16.self, at: 10))
        let start = bytes.littleEndian(UInt64.self, at: 16)
        var at = max(headerSize, EventRecordingFormat.headerSize)
        var batches: [Batch] = []
        while at + EventRecordingFormat.frameHeaderSize <= bytes.count {
            let length = Int(bytes.littleEndian(UInt32.self, at: at))
            let count = Int(bytes.littleEndian(UInt32.self, at: at + 4))
            let time = bytes.littleEndian(UInt64.self, at: at + 8)
            let crc = bytes.littleEndian(UInt32.self, at: at + 16)
            let payloadStart = at + EventRecordingFormat.frameHeaderSize
            guard payloadStart + length <= bytes.count else { break }
            let payload = bytes[payloadStart..<(payloadStart + length)]
            let actual = payload.withUnsafeBytes { ~duet_crc32c_update(~0, $0.baseAddress, $0.count) }
            guard actual == crc, let events = EventRecordingFormat.decodeEvents(payload, count: count) else { break }
            batches.append(Batch(time: time, events: events))
            at = payloadStart + length
        }
        return EventRecording(version: version, startWallNanoseconds: start, batches: batches, discardedBytes: bytes.count - at)
    }
}

/// Replays a recording as an `EventSource`: as fast as possible, or paced by the recorded times
/// (scaled by `speed`). Delivers on a thread of its own; `waitUntilFinished` returns once every
/// batch was delivered (or the source was stopped).
public final class ReplaySource: EventSource {
    public enum Pacing: Sendable, Equatable {
        case asFastAsPossible
        /// Recorded times divided by `speed` (2 = twice as fast).
        case recorded(speed: Double)
    }

    public let name = "replay"
    public let recording: EventRecording
    public let pacing: Pacing

    private struct State {
        var thread: BackgroundThread?
        var started = false
        var delivered: UInt64 = 0
        var finished = false
    }

    private let state = Mutex(State())
    private let stopRequested = Atomic<Bool>(false)

    public init(recording: EventRecording, pacing: Pacing = .asFastAsPossible) {
        self.recording = recording
        self.pacing = pacing
    }

    public convenience init(path: String, pacing: Pacing = .asFastAsPossible) throws {
        self.init(recording: try EventRecording.read(path: path), pacing: pacing)
    }

    public func start(deliver: @escaping @Sendable ([CacheEvent]) -> Void) throws {
        try state.withLock { state in
            guard !state.started else { throw DuetError(.unsupported, "the replay source was already started; create a new one") }
            state.started = true
            state.thread = try BackgroundThread.start(name: "replay") { [self] in run(deliver) }
        }
    }

    private func run(_ deliver: @escaping @Sendable ([CacheEvent]) -> Void) {
        let begin = SystemClock.monotonicNanoseconds()
        for batch in recording.batches {
            if stopRequested.load(ordering: .acquiring) { break }
            if case .recorded(let speed) = pacing, speed > 0 {
                let due = Double(batch.time) / speed / 1e9
                let elapsed = Double(SystemClock.monotonicNanoseconds() - begin) / 1e9
                if due > elapsed { sleep(seconds: due - elapsed, unless: stopRequested) }
                if stopRequested.load(ordering: .acquiring) { break }
            }
            deliver(batch.events)
            state.withLock { $0.delivered += UInt64(batch.events.count) }
        }
        state.withLock { $0.finished = true }
    }

    public func stop() {
        stopRequested.store(true, ordering: .releasing)
        waitUntilFinished()
    }

    /// Joins the delivery thread: every batch has been delivered, or `stop` cut it short.
    public func waitUntilFinished() {
        let thread = state.withLock { state -> BackgroundThread? in
            defer { state.thread = nil }
            return state.thread
        }
        if let thread, !thread.isCurrent { thread.join() }
    }

    public var isFinished: Bool { state.withLock { $0.finished } }

    public var statistics: EventSourceStatistics { EventSourceStatistics(delivered: state.withLock { $0.delivered }, lost: 0) }
}

fileprivate extension Array where Element == UInt8 {
    mutating func appendLittleEndian<T: FixedWidthInteger>(_ value: T) {
        Swift.withUnsafeBytes(of: value.littleEndian) { append(contentsOf: $0) }
    }

    mutating func appendVarint(_ value: UInt64) {
        var v = value
        while v >= 0x80 {
            append(UInt8(truncatingIfNeeded: v) | 0x80)
            v >>= 7
        }
        append(UInt8(v))
    }

    func littleEndian<T: FixedWidthInteger>(_ type: T.Type, at offset: Int) -> T {
        var value: T = 0
        for i in 0..<MemoryLayout<T>.size { value |= T(self[offset + i]) << (8 * i) }
        return value
    }
}

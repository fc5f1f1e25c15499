/// Reads a send stream one command at a time, checking what `btrfs receive` checks: the magic,
/// the version, each command's crc32c and its attribute bounds. Unknown commands are errors
/// (a receiver that skipped them would build a different tree).
///
/// Like `btrfs receive`, it accepts several streams back to back (what `btrfs send` writes for
/// several subvolumes): after `END`, more bytes must start with a new header. A stream that
/// ends anywhere but right after `END` is truncated, because that is how a failed send looks.
public struct SendStreamReader<Source: SendByteSource> {
    public private(set) var source: Source
    /// The version of the stream being read; nil before its header.
    public private(set) var version: SendStreamVersion?
    /// The stream offset of the next byte to be consumed.
    public private(set) var offset: UInt64 = 0
    /// The stream offset of the command that `next()` returned last.
    public private(set) var commandOffset: UInt64 = 0
    /// Its size on the wire, header included.
    public private(set) var commandSize = 0
    /// How many stream headers have been read (more than one for concatenated streams).
    public private(set) var streamCount = 0
    /// Commands above this size are refused before they are buffered; the kernel's largest is
    /// 144 KiB (`BTRFS_SEND_BUF_SIZE_V2`), so the default leaves ample room.
    public let maximumCommandSize: Int

    private var buffer: [UInt8] = []
    private var head = 0
    private var end = 0
    private var state = State.expectingHeader(first: true)

    private enum State { case expectingHeader(first: Bool), inStream, finished }

    public init(source: Source, maximumCommandSize: Int = 16 << 20) {
        self.source = source
        self.maximumCommandSize = maximumCommandSize
    }

    /// The next command, or nil after the final `END` at the end of the input.
    public mutating func next() throws(SendStreamError) -> SendCommand? {
        switch state {
        case .finished:
            return nil
        case .expectingHeader(let first):
            guard try readHeader(optional: !first) else {
                state = .finished
                return nil
            }
            state = .inStream
        case .inStream:
            break
        }
        return try readCommand()
    }

    /// Reads every remaining command; for tests and small streams.
    public mutating func readAll() throws(SendStreamError) -> [SendCommand] {
        var commands: [SendCommand] = []
        while let command = try next() { commands.append(command) }
        return commands
    }

    /// Returns false only when `optional` and the input ends cleanly before the header.
    private mutating func readHeader(optional: Bool) throws(SendStreamError) -> Bool {
        let headerOffset = offset
        let available = try fill(SendStreamVersion.headerSize)
        if available == 0 && optional { return false }
        let magic = SendStreamVersion.magic
        guard available >= magic.count else {
            if buffer[head..<head + available].elementsEqual(magic.prefix(available)) {
                throw .truncated(offset: headerOffset + UInt64(available), expected: "the stream header")
            }
            throw .badMagic(offset: headerOffset)
        }
        guard buffer[head..<head + magic.count].elementsEqual(magic) else { throw .badMagic(offset: headerOffset) }
        guard available >= SendStreamVersion.headerSize else {
            throw .truncated(offset: headerOffset + UInt64(available), expected: "the stream version")
        }
        let raw = LittleEndianBytes.read(UInt32.self, from: buffer[head + magic.count..<head + SendStreamVersion.headerSize])
        guard let version = SendStreamVersion(rawValue: raw) else {
            throw .unsupportedVersion(raw, offset: headerOffset + UInt64(magic.count))
        }
        self.version = version
        streamCount += 1
        consume(SendStreamVersion.headerSize)
        return true
    }

    private mutating func readCommand() throws(SendStreamError) -> SendCommand {
        let start = offset
        let version = self.version ?? .v1
        let available = try fill(SendCommandCodec.headerSize)
        guard available >= SendCommandCodec.headerSize else {
            throw .truncated(offset: start + UInt64(available), expected: available == 0 ? "a command or END" : "a command header")
        }
        let headerStart = self.head
        let header = buffer.withUnsafeBytes {
            SendCommandCodec.Header(UnsafeRawBufferPointer(rebasing: $0[headerStart..<headerStart + SendCommandCodec.headerSize]))
        }
        guard let type = SendCommandType(rawValue: header.command) else {
            throw .unknownCommand(header.command, offset: start)
        }
        let size = SendCommandCodec.headerSize + Int(header.payloadLength)
        guard size <= maximumCommandSize else {
            throw .commandTooLarge(size: size, limit: maximumCommandSize, offset: start)
        }
        let got = try fill(size)
        guard got >= size else {
            throw .truncated(
                offset: start + UInt64(got), expected: "\(header.payloadLength) payload bytes of the \(type) command at offset \(start)")
        }
        let head = self.head  // only now: fill() may have moved the unread bytes to the front
        // Array.withUnsafeBytes is not typed-throws; carry the error out in a Result.
        let decoded = buffer.withUnsafeBytes { bytes -> Result<[SendAttribute], SendStreamError> in
            let headerBytes = UnsafeRawBufferPointer(rebasing: bytes[head..<head + SendCommandCodec.headerSize])
            let payload = UnsafeRawBufferPointer(rebasing: bytes[head + SendCommandCodec.headerSize..<head + size])
            let computed = SendCommandCodec.checksum(header: headerBytes, payload: payload)
            guard computed == header.crc else {
                return .failure(.checksumMismatch(stored: header.crc, computed: computed, offset: start))
            }
            do throws(SendStreamError) {
                return .success(try SendCommandCodec.decodeAttributes(payload, version: version, offset: start))
            } catch {
                return .failure(error)
            }
        }
        let attributes = try decoded.get()
        consume(size)
        commandOffset = start
        commandSize = size
        if type == .end { state = .expectingHeader(first: false) }
        return SendCommand(type, attributes)
    }

    /// Buffers until `count` unread bytes are available or the input ends; returns how many are.
    /// The unread bytes are `buffer[head..<end]`; the buffer grows to the largest command seen.
    private mutating func fill(_ count: Int) throws(SendStreamError) -> Int {
        while end - head < count {
            if head > 0 {
                // Move the unread bytes to the front so the buffer stays one command long.
                let (from, length) = (head, end - head)
                buffer.withUnsafeMutableBytes { bytes in
                    if length > 0 { bytes.baseAddress!.copyMemory(from: bytes.baseAddress! + from, byteCount: length) }
                }
                end = length
                head = 0
            }
            if buffer.count < max(count, 64 * 1024) {
                buffer += [UInt8](repeating: 0, count: max(count, 64 * 1024) - buffer.count)
            }
            var source = self.source
            let end = self.end
            let result = buffer.withUnsafeMutableBytes { bytes -> Result<Int, SendIOFailure> in
                do throws(SendIOFailure) {
                    return .success(try source.read(into: UnsafeMutableRawBufferPointer(rebasing: bytes[end...])))
                } catch {
                    return .failure(error)
                }
            }
            self.source = source
            switch result {
            case .success(0):
                return self.end - head
            case .success(let got):
                self.end += got
            case .failure(let failure):
                throw .io(errno: failure.errno, offset: offset + UInt64(self.end - head))
            }
        }
        return end - head
    }

    private mutating func consume(_ count: Int) {
        head += count
        offset += UInt64(count)
    }
}

extension SendStreamReader: Sendable where Source: Sendable {}

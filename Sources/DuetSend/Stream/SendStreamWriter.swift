/// Writes a send stream: the header, then commands with their crc32c, in the encoding of the
/// chosen version. It refuses what a receiver would reject (a v1 command of 64 KiB or more, v2
/// `DATA` that is not last), so errors surface here and not in `btrfs receive`.
public struct SendStreamWriter<Sink: SendByteSink> {
    public private(set) var sink: Sink
    public let version: SendStreamVersion
    /// Bytes written so far; also the offset at which the next command will start.
    public private(set) var offset: UInt64 = 0
    public private(set) var commandCount = 0
    private var headerWritten = false

    public init(sink: Sink, version: SendStreamVersion) {
        self.sink = sink
        self.version = version
    }

    public mutating func writeHeader() throws(SendStreamError) {
        var bytes = SendStreamVersion.magic
        LittleEndianBytes.append(version.rawValue, to: &bytes)
        try emit(bytes)
        headerWritten = true
    }

    /// Continues a stream whose header an earlier writer wrote on the same output (`send -e`:
    /// one stream for several snapshots).
    public mutating func continueAfterHeader() {
        headerWritten = true
    }

    public mutating func write(_ command: SendCommand) throws(SendStreamError) {
        guard headerWritten else { throw .headerNotWritten }
        try emit(SendCommandCodec.encode(command, version: version, offset: offset))
        commandCount += 1
    }

    public mutating func writeEnd() throws(SendStreamError) {
        try write(SendCommand(.end))
    }

    /// Writes `data` for `path` at `fileOffset` as `WRITE` commands of at most
    /// `maximumWriteDataLength(forPathLength:)` bytes each, as the kernel's `send_extent_data`
    /// does; returns how many commands that took.
    @discardableResult
    public mutating func writeData(path: SendPath, fileOffset: UInt64, data: UnsafeRawBufferPointer) throws(SendStreamError) -> Int {
        let chunk = maximumWriteDataLength(forPathLength: path.bytes.count)
        var done = 0
        var commands = 0
        repeat {
            let count = min(chunk, data.count - done)
            try write(
                SendCommand(
                    .write,
                    [
                        .path(.path, path),
                        .u64(.fileOffset, fileOffset + UInt64(done)),
                        .data(Array(UnsafeRawBufferPointer(rebasing: data[done..<done + count])))
                    ]))
            done += count
            commands += 1
        } while done < data.count
        return commands
    }

    @discardableResult
    public mutating func writeData(path: SendPath, fileOffset: UInt64, data: [UInt8]) throws(SendStreamError) -> Int {
        // Array.withUnsafeBytes is not typed-throws; carry the error out in a Result.
        let result = data.withUnsafeBytes { bytes -> Result<Int, SendStreamError> in
            do throws(SendStreamError) {
                return .success(try writeData(path: path, fileOffset: fileOffset, data: bytes))
            } catch {
                return .failure(error)
            }
        }
        return try result.get()
    }

    /// The data one `WRITE` may carry: the kernel's chunk size for this version, reduced for
    /// v1 if a long path would otherwise push the command past the 64 KiB receive buffer.
    public func maximumWriteDataLength(forPathLength pathLength: Int) -> Int {
        let preferred = version.maximumWriteDataLength
        guard let limit = version.maximumCommandSize else { return preferred }
        // header + PATH TLV + FILE_OFFSET TLV (4 + 8) + DATA TLV header (4, with length in v1)
        let overhead = SendCommandCodec.headerSize + 4 + pathLength + 12 + 4
        return max(1, min(preferred, limit - overhead))
    }

    private mutating func emit(_ bytes: [UInt8]) throws(SendStreamError) {
        var sink = self.sink
        let failure = bytes.withUnsafeBytes { raw -> SendIOFailure? in
            do throws(SendIOFailure) {
                try sink.write(raw)
                return nil
            } catch {
                return error
            }
        }
        self.sink = sink
        if let failure { throw .io(errno: failure.errno, offset: offset) }
        offset += UInt64(bytes.count)
    }
}

extension SendStreamWriter: Sendable where Sink: Sendable {}

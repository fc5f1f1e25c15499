import DuetFS
import Glibc
import Testing

@testable import DuetSend

/// The codec on hand-built commands: encodings, limits and every error with its offset.
@Suite struct StreamCodecTests {
    static let sampleCommands: [SendCommand] = [
        SendCommand(.subvol, [.path(.path, "snap"), .uuid(.uuid, SendUUID(bytes: Array(1...16))!), .u64(.ctransid, 7)]),
        SendCommand(.mkfile, [.path(.path, "o257-7-0"), .u64(.ino, 257)]),
        SendCommand(.rename, [.path(.path, "o257-7-0"), .path(.pathTo, "a")]),
        SendCommand(.setXattr, [.path(.path, "a"), .string(.xattrName, "user.x"), SendAttribute(.xattrData, [0, 1, 2])]),
        SendCommand(.write, [.path(.path, "a"), .u64(.fileOffset, 4096), .data(Array(repeating: 0xAB, count: 5000))]),
        SendCommand(.utimes, [.path(.path, "a"), .timespec(.atime, SendTimespec(seconds: -1, nanoseconds: 999_999_999))]),
        SendCommand(.updateExtent, [.path(.path, "a"), .u64(.fileOffset, 0), .u64(.size, 8192)]),
        SendCommand(.end)
    ]

    static func encodeStream(_ commands: [SendCommand], version: SendStreamVersion) throws -> [UInt8] {
        var writer = SendStreamWriter(sink: ByteBufferSink(), version: version)
        try writer.writeHeader()
        for command in commands { try writer.write(command) }
        return writer.sink.bytes
    }

    @Test(arguments: SendStreamVersion.allCases)
    func roundTripPreservesEveryCommand(version: SendStreamVersion) throws {
        let bytes = try Self.encodeStream(Self.sampleCommands, version: version)
        var reader = SendStreamReader(source: ByteBufferSource(bytes))
        #expect(try reader.readAll() == Self.sampleCommands)
        #expect(reader.version == version)
    }

    @Test(arguments: SendStreamVersion.allCases, [1, 3, 10, 17, 4096])
    func readingInSmallPiecesGivesTheSameCommands(version: SendStreamVersion, chunk: Int) throws {
        let bytes = try Self.encodeStream(Self.sampleCommands, version: version)
        var reader = SendStreamReader(source: ByteBufferSource(bytes, chunkSize: chunk))
        #expect(try reader.readAll() == Self.sampleCommands)
        #expect(reader.offset == UInt64(bytes.count))
    }

    @Test func headerIsMagicAndLittleEndianVersion() throws {
        let bytes = try Self.encodeStream([], version: .v2)
        #expect(bytes == Array("btrfs-stream".utf8) + [0, 2, 0, 0, 0])
    }

    @Test func crcIsRawCRC32CWithZeroedField() throws {
        let command = SendCommand(.unlink, [.path(.path, "x")])
        let bytes = try SendCommandCodec.encode(command, version: .v1)
        // len=5 (TLV 4 + 1), cmd=11, then crc, then TLV path.
        #expect(Array(bytes[0..<6]) == [5, 0, 0, 0, 11, 0])
        #expect(Array(bytes[10...]) == [15, 0, 1, 0, UInt8(ascii: "x")])
        var zeroed = bytes
        zeroed.replaceSubrange(6..<10, with: [0, 0, 0, 0])
        let crc = zeroed.withUnsafeBytes { CRC32C.update(0, $0) }
        #expect(LittleEndianBytes.read(UInt32.self, from: bytes[6..<10]) == crc)
    }

    @Test func v2DataHasNoLengthAndRunsToTheEnd() throws {
        let data: [UInt8] = [9, 8, 7]
        let command = SendCommand(.write, [.path(.path, "f"), .u64(.fileOffset, 0), .data(data)])
        let v1 = try SendCommandCodec.encode(command, version: .v1)
        let v2 = try SendCommandCodec.encode(command, version: .v2)
        #expect(Array(v1.suffix(7)) == [19, 0, 3, 0, 9, 8, 7])
        #expect(Array(v2.suffix(5)) == [19, 0, 9, 8, 7])
        #expect(v1.count == v2.count + 2)
    }

    @Test func v2DataMustBeLast() {
        let command = SendCommand(.write, [.path(.path, "f"), .data([1]), .u64(.fileOffset, 0)])
        #expect(throws: SendStreamError.dataNotLast(.write, offset: 0)) { try SendCommandCodec.encode(command, version: .v2) }
    }

    @Test func v2CommandsAreRefusedInV1Streams() {
        let command = SendCommand(.fallocate, [.path(.path, "f")])
        #expect(throws: SendStreamError.commandNotInVersion(.fallocate, version: .v1, offset: 0)) {
            try SendCommandCodec.encode(command, version: .v1)
        }
    }

    @Test func v1CommandsStayBelow64KiB() {
        let command = SendCommand(.write, [.path(.path, "f"), .u64(.fileOffset, 0), .data(Array(repeating: 0, count: 65_520))])
        #expect(throws: SendStreamError.commandTooLarge(size: 65_520 + 10 + 5 + 12 + 4, limit: 65_535, offset: 0)) {
            try SendCommandCodec.encode(command, version: .v1)
        }
        // v2 carries it, with DATA past the 16-bit length limit.
        let big = SendCommand(.write, [.path(.path, "f"), .u64(.fileOffset, 0), .data(Array(repeating: 1, count: 200_000))])
        #expect(throws: Never.self) { try SendCommandCodec.encode(big, version: .v2) }
    }

    @Test func writeDataSplitsLikeTheKernel() throws {
        let data = (0..<300_000).map { UInt8(truncatingIfNeeded: $0 * 7) }
        for version in SendStreamVersion.allCases {
            var writer = SendStreamWriter(sink: ByteBufferSink(), version: version)
            try writer.writeHeader()
            let count = try writer.writeData(path: "dir/file", fileOffset: 1000, data: data)
            try writer.writeEnd()
            var reader = SendStreamReader(source: ByteBufferSource(writer.sink.bytes))
            let writes = try reader.readAll().filter { $0.type == .write }
            #expect(writes.count == count)
            let chunk = version.maximumWriteDataLength
            #expect(count == (data.count + chunk - 1) / chunk)
            var expectedOffset: UInt64 = 1000
            var joined: [UInt8] = []
            for write in writes {
                #expect(try write.u64(.fileOffset) == expectedOffset)
                #expect(try write.data().count <= chunk)
                expectedOffset += UInt64(try write.data().count)
                joined += try write.data()
            }
            #expect(joined == data)
        }
    }

    @Test func writeDataWithALongPathNeverExceedsTheV1Limit() throws {
        let path = SendPath(components: Array(repeating: Array(repeating: UInt8(ascii: "n"), count: 255), count: 16))  // 4 KiB
        var writer = SendStreamWriter(sink: ByteBufferSink(), version: .v1)
        try writer.writeHeader()
        try writer.writeData(path: path, fileOffset: 0, data: Array(repeating: 3, count: 200_000))
        var reader = SendStreamReader(
            source: ByteBufferSource(writer.sink.bytes + (try SendCommandCodec.encode(SendCommand(.end), version: .v1))))
        while let command = try reader.next() {
            #expect(reader.commandSize <= 65_535)
            if command.type == .write { #expect(try command.data().count <= 48 * 1024) }
        }
    }

    @Test func emptyWriteStillProducesOneCommand() throws {
        var writer = SendStreamWriter(sink: ByteBufferSink(), version: .v1)
        try writer.writeHeader()
        #expect(try writer.writeData(path: "f", fileOffset: 0, data: []) == 1)
    }

    @Test func writingBeforeTheHeaderIsRefused() {
        var writer = SendStreamWriter(sink: ByteBufferSink(), version: .v1)
        #expect(throws: SendStreamError.headerNotWritten) { try writer.writeEnd() }
    }

    // MARK: Reader errors

    @Test func unknownCommandCarriesItsNumberAndOffset() throws {
        var bytes = try Self.encodeStream(Array(Self.sampleCommands.prefix(3)), version: .v1)
        let offset = UInt64(bytes.count)
        bytes += Self.rawCommand(number: 26, payload: [1, 2, 3])
        var reader = SendStreamReader(source: ByteBufferSource(bytes))
        for _ in 0..<3 { _ = try reader.next() }
        #expect(throws: SendStreamError.unknownCommand(26, offset: offset)) { try reader.next() }
    }

    @Test(arguments: [0, 26, 27, 100, 65_535] as [UInt16])
    func everyNumberOutsideOneToTwentyFiveIsUnknown(number: UInt16) throws {
        let bytes = SendStreamVersion.magic + [2, 0, 0, 0] + Self.rawCommand(number: number, payload: [])
        var reader = SendStreamReader(source: ByteBufferSource(bytes))
        #expect(throws: SendStreamError.unknownCommand(number, offset: 17)) { try reader.next() }
    }

    @Test func badChecksumIsReportedWithOffset() throws {
        var bytes = try Self.encodeStream(Self.sampleCommands, version: .v2)
        let second = 17 + (try SendCommandCodec.encode(Self.sampleCommands[0], version: .v2)).count
        bytes[second + 10 + 4] ^= 0x01  // flip a payload bit of the second command
        var reader = SendStreamReader(source: ByteBufferSource(bytes))
        _ = try reader.next()
        do {
            _ = try reader.next()
            Issue.record("a corrupted command was accepted")
        } catch {
            guard case .checksumMismatch(_, _, let offset) = error else { Issue.record("wrong error \(error)"); return }
            #expect(offset == UInt64(second))
        }
    }

    @Test func badMagicAndVersion() {
        var reader = SendStreamReader(source: ByteBufferSource(Array("btrfs-strean".utf8) + [0, 1, 0, 0, 0]))
        #expect(throws: SendStreamError.badMagic(offset: 0)) { try reader.next() }
        var v3 = SendStreamReader(source: ByteBufferSource(SendStreamVersion.magic + [3, 0, 0, 0]))
        #expect(throws: SendStreamError.unsupportedVersion(3, offset: 13)) { try v3.next() }
        var empty = SendStreamReader(source: ByteBufferSource([]))
        #expect(throws: SendStreamError.truncated(offset: 0, expected: "the stream header")) { try empty.next() }
    }

    @Test func truncationAnywhereIsAnError() throws {
        let bytes = try Self.encodeStream(Self.sampleCommands, version: .v2)
        for cut in 1..<bytes.count {
            var reader = SendStreamReader(source: ByteBufferSource(Array(bytes[..<cut])))
            do {
                _ = try reader.readAll()
                Issue.record("stream cut at \(cut) was read as complete")
            } catch {
                switch error {
                case .truncated(let offset, _): #expect(offset <= UInt64(cut))
                case .badMagic: #expect(cut < 13)  // a strict prefix of the magic is still no stream
                default: Issue.record("cut at \(cut): unexpected \(error)")
                }
            }
        }
    }

    @Test func missingEndIsTruncation() throws {
        let bytes = try Self.encodeStream(Array(Self.sampleCommands.dropLast()), version: .v1)
        var reader = SendStreamReader(source: ByteBufferSource(bytes))
        #expect(throws: SendStreamError.truncated(offset: UInt64(bytes.count), expected: "a command or END")) { try reader.readAll() }
    }

    @Test func concatenatedStreamsAreReadLikeReceiveDoes() throws {
        let first = try Self.encodeStream(Self.sampleCommands, version: .v1)
        let second = try Self.encodeStream(Self.sampleCommands, version: .v2)
        var reader = SendStreamReader(source: ByteBufferSource(first + second, chunkSize: 7))
        #expect(try reader.readAll() == Self.sampleCommands + Self.sampleCommands)
        #expect(reader.streamCount == 2)
        #expect(reader.version == .v2)
    }

    @Test func unknownAttributeCarriesOffsets() throws {
        let bytes = SendStreamVersion.magic + [1, 0, 0, 0] + Self.rawCommand(number: 11, payload: [99, 0, 0, 0])
        var reader = SendStreamReader(source: ByteBufferSource(bytes))
        #expect(throws: SendStreamError.unknownAttribute(99, offset: 27, command: 17)) { try reader.next() }
    }

    @Test func attributeRunningPastItsCommandIsRejected() throws {
        let bytes = SendStreamVersion.magic + [1, 0, 0, 0] + Self.rawCommand(number: 11, payload: [15, 0, 9, 0, 65])
        var reader = SendStreamReader(source: ByteBufferSource(bytes))
        #expect(throws: SendStreamError.attributeOverrun(.path, offset: 27, command: 17)) { try reader.next() }
    }

    @Test func typedAccessors() throws {
        let command = SendCommand(
            .utimes,
            [
                .path(.path, "d/f"), .timespec(.mtime, SendTimespec(seconds: 1_600_000_000, nanoseconds: 5)),
                .u32(.compression, 3), .uuid(.uuid, SendUUID(bytes: Array(repeating: 0xEE, count: 16))!)
            ])
        #expect(try command.path() == "d/f")
        #expect(try command.timespec(.mtime) == SendTimespec(seconds: 1_600_000_000, nanoseconds: 5))
        #expect(try command.u32(.compression) == 3)
        #expect(try command.uuid(.uuid).description == "eeeeeeee-eeee-eeee-eeee-eeeeeeeeeeee")
        #expect(throws: SendAttributeError.missing(.size, in: .utimes)) { try command.u64(.size) }
        #expect(throws: SendAttributeError.badLength(.compression, in: .utimes, expected: 8, actual: 4)) { try command.u64(.compression) }
    }

    @Test func fileDescriptorSourceAndSinkRoundTrip() throws {
        var fds: [Int32] = [0, 0]
        #expect(pipe(&fds) == 0)
        defer { close(fds[0]) }
        let bytes = try Self.encodeStream(Self.sampleCommands, version: .v2)
        var sink = SendStreamWriter(sink: FileDescriptorByteSink(descriptor: fds[1]), version: .v2)
        // A pipe holds 64 KiB; the sample stream is far smaller, so no reader thread is needed.
        try sink.writeHeader()
        for command in Self.sampleCommands { try sink.write(command) }
        close(fds[1])
        #expect(sink.offset == UInt64(bytes.count))
        var reader = SendStreamReader(source: FileDescriptorByteSource(descriptor: fds[0]))
        #expect(try reader.readAll() == Self.sampleCommands)
    }

    @Test func writeErrorsCarryTheOffset() throws {
        var writer = SendStreamWriter(sink: FileDescriptorByteSink(descriptor: -1), version: .v1)
        #expect(throws: SendStreamError.io(errno: EBADF, offset: 0)) { try writer.writeHeader() }
    }

    /// A command with a correct crc and an arbitrary number, as a future kernel might send.
    static func rawCommand(number: UInt16, payload: [UInt8]) -> [UInt8] {
        var bytes = LittleEndianBytes.of(UInt32(payload.count)) + LittleEndianBytes.of(number) + [0, 0, 0, 0] + payload
        let crc = bytes.withUnsafeBytes { CRC32C.update(0, $0) }
        bytes.replaceSubrange(6..<10, with: LittleEndianBytes.of(crc))
        return bytes
    }
}

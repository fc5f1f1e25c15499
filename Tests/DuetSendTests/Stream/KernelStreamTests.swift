import DuetFS
import Foundation
import Glibc
import Testing

@testable import DuetSend

/// The codec against real kernel streams (see `scripts/fixtures/make-send-fixtures`).
@Suite struct KernelStreamTests {
    @Test(arguments: Fixtures.streamNames)
    func everyCommandDecodesAndMatchesReceiveDump(name: String) throws {
        let commands = try Fixtures.commands(name)
        #expect(commands.last?.type == .end)
        let names = commands.dropLast().map(\.type.description)
        #expect(names == (try Fixtures.dumpCommandNames(name)))
    }

    @Test(arguments: Fixtures.streamNames)
    func reencodingIsByteIdentical(name: String) throws {
        let original = try Fixtures.stream(name)
        var reader = SendStreamReader(source: ByteBufferSource(original))
        var commands: [SendCommand] = []
        while let command = try reader.next() { commands.append(command) }
        let version = try #require(reader.version)
        #expect(version == (name.contains("v1") ? .v1 : .v2))
        var writer = SendStreamWriter(sink: ByteBufferSink(), version: version)
        try writer.writeHeader()
        for command in commands { try writer.write(command) }
        #expect(writer.sink.bytes.count == original.count)
        #expect(writer.sink.bytes == original)
    }

    @Test(arguments: Fixtures.streamNames)
    func eachCommandReencodesToItsOwnBytes(name: String) throws {
        let original = try Fixtures.stream(name)
        var reader = SendStreamReader(source: ByteBufferSource(original, chunkSize: 4093))
        while let command = try reader.next() {
            let start = Int(reader.commandOffset)
            let encoded = try SendCommandCodec.encode(command, version: reader.version!)
            #expect(encoded[...] == original[start..<start + reader.commandSize], "\(command.type) at \(start)")
        }
    }

    @Test(arguments: Fixtures.streamNames)
    func readsFromAFileDescriptor(name: String) throws {
        let path = Fixtures.directory.appendingPathComponent("\(name).stream").path
        let fd = open(path, O_RDONLY)
        try #require(fd >= 0)
        defer { close(fd) }
        var reader = SendStreamReader(source: FileDescriptorByteSource(descriptor: fd))
        #expect(try reader.readAll() == (try Fixtures.commands(name)))
        #expect(reader.offset == UInt64(try Fixtures.stream(name).count))
    }

    @Test func kernelV1WritesCarryAtMost48KiBAndV2More() throws {
        let v1 = try Fixtures.commands("full-v1").filter { $0.type == .write }.map { try $0.data().count }
        let v2 = try Fixtures.commands("full-v2").filter { $0.type == .write }.map { try $0.data().count }
        #expect(v1.max() == SendStreamVersion.v1.maximumWriteDataLength)
        #expect(v2.max()! > SendStreamVersion.v1.maximumWriteDataLength)
        #expect(v2.max()! <= SendStreamVersion.v2.maximumWriteDataLength)
    }

    @Test func v1KernelCommandsStayWithinTheV1Limit() throws {
        for name in Fixtures.streamNames where name.contains("v1") {
            var reader = SendStreamReader(source: ByteBufferSource(try Fixtures.stream(name)))
            while try reader.next() != nil { #expect(reader.commandSize <= SendStreamVersion.v1.maximumCommandSize!) }
        }
    }

    @Test func kernelShapesOfTheCommandsDuetRewrites() throws {
        let nodata = try Fixtures.commands("full-v1-nodata")
        let update = try #require(nodata.first { $0.type == .updateExtent })
        #expect(update.attributes.map(\.type) == [.path, .fileOffset, .size])
        let full = try Fixtures.commands("full-v1")
        let clone = try #require(full.first { $0.type == .clone })
        #expect(clone.attributes.map(\.type) == [.fileOffset, .cloneLength, .path, .cloneUUID, .cloneCtransid, .clonePath, .cloneOffset])
        #expect(try clone.uuid(.cloneUUID) == (try full[0].uuid(.uuid)))
        let encoded = try #require(try Fixtures.commands("compressed-v2").first { $0.type == .encodedWrite })
        #expect(encoded.attributes.last?.type == .data)
        #expect(try encoded.u64(.unencodedFileLength) > UInt64(try encoded.data().count))
        let snapshot = try Fixtures.commands("incr-v2")[0]
        #expect(snapshot.type == .snapshot)
        #expect(try snapshot.uuid(.cloneUUID) == (try Fixtures.commands("full-v2")[0].uuid(.uuid)))
    }

    @Test func dataFillOfANoDataStreamMatchesTheKernelsV1Stream() throws {
        // Replace each UPDATE_EXTENT with the WRITEs the kernel sent for it: the result must be
        // the kernel's own v1 stream, byte for byte (DESIGN §3: the validated rewrite).
        let withData = try Fixtures.commands("full-v1")
        var writes = withData.filter { $0.type == .write }.makeIterator()
        var writer = SendStreamWriter(sink: ByteBufferSink(), version: .v1)
        try writer.writeHeader()
        for command in try Fixtures.commands("full-v1-nodata") {
            guard command.type == .updateExtent else { try writer.write(command); continue }
            var data: [UInt8] = []
            while data.count < Int(try command.u64(.size)), let write = writes.next() { data += try write.data() }
            try writer.writeData(path: try command.path(), fileOffset: try command.u64(.fileOffset), data: data)
        }
        #expect(writer.sink.bytes == (try Fixtures.stream("full-v1")))
    }

    @Test func unknownCommandInAKernelStreamIsRejectedAtItsOffset() throws {
        var bytes = try Fixtures.stream("incr-v2")
        var reader = SendStreamReader(source: ByteBufferSource(bytes))
        for _ in 0..<5 { _ = try reader.next() }
        let offset = Int(reader.offset)
        bytes[offset + 4] = 30  // command number, with a crc that no longer matters
        bytes[offset + 5] = 0
        var patched = SendStreamReader(source: ByteBufferSource(bytes))
        for _ in 0..<5 { _ = try patched.next() }
        #expect(throws: SendStreamError.unknownCommand(30, offset: UInt64(offset))) { try patched.next() }
    }

    @Test func everyCorruptedByteOfAKernelStreamIsCaught() throws {
        let original = try Fixtures.stream("incr-v1-nodata")
        for index in stride(from: 17, to: original.count, by: 37) {
            var bytes = original
            bytes[index] ^= 0x40
            var reader = SendStreamReader(source: ByteBufferSource(bytes))
            #expect(throws: SendStreamError.self, "flip at \(index)") { try reader.readAll() }
        }
    }
}

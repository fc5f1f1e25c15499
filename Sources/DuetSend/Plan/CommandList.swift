import Glibc
import SystemPackage

/// Send commands kept for later, packed back to back in an unlinked temporary file and decoded
/// when read in order; in memory only their count.
///
/// Why: a plan holds most of the kernel's commands until the data is out (metadata first,
/// attributes last). As `SendCommand` values each costs an array per attribute, about 1.5 KiB
/// per file of a snapshot; packed in memory still some 270 bytes, and even an offset per
/// command is 8 bytes × several commands per file (issue 14: a million files, within 64 MiB +
/// 200 bytes per data extent). Spilled, they cost the page cache, which the kernel can write
/// back, not the process. The file is unlinked from the start (`O_TMPFILE`), so nothing is
/// left behind, whatever ends the process.
///
/// Record: le32 length, then le16 type, le16 attribute count, per attribute le16 type, le32
/// length, the value. A list reads its records from the start of its spool up to its own end;
/// a copy that appends after another copy did gets a spool of its own first.
public struct CommandList: Sequence, Sendable, Equatable {
    private var spool: CommandSpool?
    /// Where this list's records end in the spool.
    private var end: UInt64 = 0
    public private(set) var count = 0

    public init() {}

    public init(_ commands: some Sequence<SendCommand>) {
        for command in commands { append(command) }
    }

    public var isEmpty: Bool { count == 0 }
    public var underestimatedCount: Int { count }

    public mutating func append(_ command: SendCommand) {
        if spool == nil { spool = CommandSpool() }
        if spool!.length != end {
            // Another copy appended to the shared spool: continue in a spool of our own.
            let own = CommandSpool()
            var offset: UInt64 = 0
            while offset < end {
                let chunk = spool!.read(at: offset, count: Int(Swift.min(1 << 20, end - offset)))
                own.append(chunk)
                offset += UInt64(chunk.count)
            }
            spool = own
        }
        var record: [UInt8] = [0, 0, 0, 0]
        Self.put(command.type.rawValue, &record)
        Self.put(UInt16(command.attributes.count), &record)
        for attribute in command.attributes {
            Self.put(attribute.type.rawValue, &record)
            Self.put(UInt32(attribute.value.count), &record)
            record += attribute.value
        }
        withUnsafeBytes(of: UInt32(record.count - 4).littleEndian) { record.replaceSubrange(0..<4, with: $0) }
        spool!.append(record)
        end += UInt64(record.count)
        count += 1
    }

    public func makeIterator() -> Iterator { Iterator(spool: spool, end: end) }

    /// Reads the records in order through a window of the file, not two reads per command.
    public struct Iterator: IteratorProtocol {
        let spool: CommandSpool?
        let end: UInt64
        var offset: UInt64 = 0
        var window: [UInt8] = []
        var windowStart: UInt64 = 0

        public mutating func next() -> SendCommand? {
            guard offset < end, let spool else { return nil }
            let start = offset
            let record: ArraySlice<UInt8>
            if let inWindow = Self.slice(window, from: start - Swift.min(start, windowStart), valid: start >= windowStart) {
                record = inWindow
            } else {
                window = spool.read(at: start, count: Int(Swift.min(1 << 20, end - start)))
                windowStart = start
                record = Self.slice(window, from: 0, valid: true) ?? spool.record(at: start)
            }
            offset = start + 4 + UInt64(record.count)
            return CommandList.decode(record)
        }

        /// The record at `from` in `window` if all of it is there.
        static func slice(_ window: [UInt8], from: UInt64, valid: Bool) -> ArraySlice<UInt8>? {
            guard valid, from + 4 <= UInt64(window.count) else { return nil }
            let at = Int(from)
            let length = Int(CommandList.get(UInt32.self, window[at..<(at + 4)]))
            guard at + 4 + length <= window.count else { return nil }
            return window[(at + 4)..<(at + 4 + length)]
        }
    }

    public static func == (lhs: CommandList, rhs: CommandList) -> Bool {
        lhs.count == rhs.count && lhs.elementsEqual(rhs)
    }

    /// The same list without the commands at `positions`.
    public func removing(_ positions: Set<Int>) -> CommandList {
        var kept = CommandList()
        for (position, command) in enumerated() where !positions.contains(position) { kept.append(command) }
        return kept
    }

    static func decode(_ record: ArraySlice<UInt8>) -> SendCommand {
        var at = record.startIndex
        func next<T: FixedWidthInteger>(_: T.Type) -> T {
            defer { at += T.bitWidth / 8 }
            return get(T.self, record[at..<(at + T.bitWidth / 8)])
        }
        let type = SendCommandType(rawValue: next(UInt16.self))!
        let count = Int(next(UInt16.self))
        var attributes: [SendAttribute] = []
        attributes.reserveCapacity(count)
        for _ in 0..<count {
            let attributeType = SendAttributeType(rawValue: next(UInt16.self))!
            let length = Int(next(UInt32.self))
            attributes.append(SendAttribute(attributeType, Array(record[at..<(at + length)])))
            at += length
        }
        return SendCommand(type, attributes)
    }

    private static func put<T: FixedWidthInteger>(_ value: T, _ bytes: inout [UInt8]) {
        withUnsafeBytes(of: value.littleEndian) { bytes += $0 }
    }

    static func get<T: FixedWidthInteger>(_: T.Type, _ bytes: ArraySlice<UInt8>) -> T {
        var value: T = 0
        for (index, byte) in bytes.enumerated() { value |= T(byte) << (8 * index) }
        return value
    }
}

/// The append-only file behind `CommandList`s, written through a buffer. Without a usable
/// temporary directory, or once a write to it failed (a full disk), further records stay in
/// memory instead: the send goes on, as it did before it spilled.
final class CommandSpool: @unchecked Sendable {
    // @unchecked: a plan is built and emitted by one thread.
    private let descriptor: Int32
    private var spilling: Bool
    /// Records from offset `written` on.
    private var buffer: [UInt8] = []
    private var written: UInt64 = 0

    init() {
        let directory = getenv("TMPDIR").map { String(cString: $0) } ?? "/var/tmp"
        // O_TMPFILE (neither Glibc nor swift-system exports it): __O_TMPFILE | O_DIRECTORY.
        let temporaryFile = FileDescriptor.OpenOptions(rawValue: 0o20000000).union(.directory)
        // Where no unnamed file can be made (a read-only or odd TMPDIR), the list stays in memory.
        descriptor = (try? FileDescriptor.open(directory, .readWrite, options: temporaryFile, permissions: .ownerReadWrite))?.rawValue ?? -1
        spilling = descriptor >= 0
    }

    deinit { if descriptor >= 0 { close(descriptor) } }

    /// Appends `record` and returns its offset.
    @discardableResult
    func append(_ record: [UInt8]) -> UInt64 {
        record.withUnsafeBytes { append(bytes: $0) }
    }

    @discardableResult
    func append(bytes record: UnsafeRawBufferPointer) -> UInt64 {
        let offset = written + UInt64(buffer.count)
        buffer.append(contentsOf: record)
        // A dozen spools are open while a plan is built (commands and what each is about):
        // 256 KiB of buffer each, not a megabyte.
        if spilling, buffer.count >= 256 << 10 { flush() }
        return offset
    }

    /// Bytes appended so far.
    var length: UInt64 { written + UInt64(buffer.count) }

    /// The record at `offset`, without its length.
    func record(at offset: UInt64) -> ArraySlice<UInt8> {
        let length = Int(CommandList.get(UInt32.self, read(at: offset, count: 4)[...]))
        return read(at: offset + 4, count: length)[...]
    }

    /// Up to `count` bytes from `offset` (fewer at the end).
    func read(at offset: UInt64, count: Int) -> [UInt8] {
        if spilling { flush() }
        guard offset < written else {
            let start = Int(offset - written)
            return Array(buffer[start..<min(buffer.count, start + count)])
        }
        let fromFile = Int(min(UInt64(count), written - offset))
        var bytes = [UInt8](repeating: 0, count: fromFile)
        let got = bytes.withUnsafeMutableBytes { raw in
            Result { () throws(Errno) in try FileDescriptor(rawValue: descriptor).read(fully: raw, at: offset) }
        }
        // Our own unlinked file, written a moment ago: only a failing disk gets here.
        switch got {
        case .success(let count) where count == fromFile: break
        case .success: fatalError("reading the send's command spool failed: \(String(cString: strerror(EIO)))")
        case .failure(let error): fatalError("reading the send's command spool failed: \(String(cString: strerror(error.rawValue)))")
        }
        return bytes + buffer.prefix(count - fromFile)
    }

    private func flush() {
        guard !buffer.isEmpty else { return }
        do {
            try FileDescriptor(rawValue: descriptor).writeAll(buffer, at: written)
        } catch {
            spilling = false  // keeps this buffer and what follows in memory
            return
        }
        written += UInt64(buffer.count)
        buffer.removeAll(keepingCapacity: true)
    }
}

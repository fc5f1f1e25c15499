/// Fixed-size records of plain integers, appended to an unlinked temporary file
/// (`CommandSpool`) and read back in order. What a plan notes per command while the kernel's
/// stream goes by (which object, which command) would otherwise be tens of bytes per file on
/// the heap; a million-file send has to stay within 64 MiB + 200 bytes per data extent.
struct SpilledRecords<Record: BitwiseCopyable>: Sendable {
    private let spool = CommandSpool()
    private(set) var count = 0

    var isEmpty: Bool { count == 0 }

    mutating func append(_ record: Record) {
        withUnsafeBytes(of: record) { spool.append(bytes: $0) }
        count += 1
    }

    /// Every record in the order appended, read through a window of the file.
    func forEach(_ body: (Record) throws -> Void) rethrows {
        let size = MemoryLayout<Record>.size
        let perWindow = max(1, (1 << 20) / size)
        var position = 0
        while position < count {
            let take = min(perWindow, count - position)
            let window = spool.read(at: UInt64(position * size), count: take * size)
            try window.withUnsafeBytes { raw in
                for index in 0..<take {
                    try body(raw.loadUnaligned(fromByteOffset: index * size, as: Record.self))
                }
            }
            position += take
        }
    }
}

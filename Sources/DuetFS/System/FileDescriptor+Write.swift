import SystemPackage

extension FileDescriptor {
    /// `write(2)` at the file position until every byte is written; short writes (pipes, signals)
    /// are continued.
    public func writeAll(_ bytes: UnsafeRawBufferPointer) throws(Errno) {
        var done = 0
        while done < bytes.count {
            let rest = UnsafeRawBufferPointer(rebasing: bytes[done...])
            done += try progress(try systemCall { try write(rest) })
        }
    }

    /// `pwrite(2)` at `offset` until every byte is written.
    public func writeAll(_ bytes: UnsafeRawBufferPointer, at offset: UInt64) throws(Errno) {
        var done = 0
        while done < bytes.count {
            let rest = UnsafeRawBufferPointer(rebasing: bytes[done...])
            let position = Int64(offset) + Int64(done)
            done += try progress(try systemCall { try write(toAbsoluteOffset: position, rest) })
        }
    }

    public func writeAll(_ bytes: [UInt8]) throws(Errno) {
        // `withUnsafeBytes` rethrows as `any Error`; a Result carries the Errno through it.
        try bytes.withUnsafeBytes { raw in Result { () throws(Errno) in try writeAll(raw) } }.get()
    }

    public func writeAll(_ bytes: [UInt8], at offset: UInt64) throws(Errno) {
        try bytes.withUnsafeBytes { raw in Result { () throws(Errno) in try writeAll(raw, at: offset) } }.get()
    }

    /// A write of no bytes for a non-empty buffer would repeat forever; POSIX allows it only
    /// where nothing can be written, which is an I/O error to the caller.
    private func progress(_ count: Int) throws(Errno) -> Int {
        guard count > 0 else { throw Errno.ioError }
        return count
    }
}

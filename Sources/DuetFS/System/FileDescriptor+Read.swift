import SystemPackage

extension FileDescriptor {
    /// One `read(2)` at the file position: the bytes read, 0 at end of file.
    public func readSome(into buffer: UnsafeMutableRawBufferPointer) throws(Errno) -> Int {
        guard buffer.count > 0 else { return 0 }
        return try systemCall { try read(into: buffer) }
    }

    /// `pread(2)` until `buffer` is full or the file ends: returns how many bytes were read,
    /// fewer than `buffer.count` only at end of file. Short reads (a signal, a pipe, a device
    /// boundary) are continued, never returned as if the file had ended.
    public func read(fully buffer: UnsafeMutableRawBufferPointer, at offset: UInt64) throws(Errno) -> Int {
        var done = 0
        return try read(fully: buffer, at: offset, done: &done)
    }

    /// As `read(fully:at:)`; `done` holds the bytes read so far even when it throws, so an error
    /// can name the offset that failed rather than where the request began.
    public func read(fully buffer: UnsafeMutableRawBufferPointer, at offset: UInt64, done: inout Int) throws(Errno) -> Int {
        done = 0
        while done < buffer.count {
            let rest = UnsafeMutableRawBufferPointer(rebasing: buffer[done...])
            let position = Int64(offset) + Int64(done)
            let count = try systemCall { try read(fromAbsoluteOffset: position, into: rest) }
            if count == 0 { break }
            done += count
        }
        return done
    }

    /// Everything from the file position to the end of the file, read `chunkSize` bytes at a time.
    public func readAll(chunkSize: Int = 64 << 10) throws(Errno) -> [UInt8] {
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: chunkSize)
        while true {
            let count = try chunk.withUnsafeMutableBytes { raw in Result { () throws(Errno) in try readSome(into: raw) } }.get()
            if count == 0 { return bytes }
            bytes.append(contentsOf: chunk[..<count])
        }
    }
}

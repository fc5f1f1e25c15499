import CDuet
import Glibc
import SystemPackage

extension FileDescriptor {
    /// `ioctl(2)` with a pointer argument; returns the call's non-negative result.
    ///
    /// Unlike reads and writes, an interrupted ioctl is not repeated: a btrfs ioctl may have
    /// done part of its work before the signal (a send has written part of a stream), so
    /// EINTR is the caller's to judge.
    public func ioctl(_ request: UInt, _ argument: UnsafeMutableRawPointer?) throws(Errno) -> Int32 {
        let result = duet_ioctl(rawValue, request, argument)
        guard result >= 0 else { throw Errno(rawValue: Glibc.errno) }
        return result
    }
}

import Glibc

/// glibc functions Swift's Glibc module does not export (GNU extensions, <sys/xattr.h>),
/// looked up at run time.
enum GNU {
    static let seekData: Int32 = 3
    static let seekHole: Int32 = 4
    static let renameExchange: UInt32 = 1 << 1
    static let punchHole: Int32 = 0x02
    static let keepSize: Int32 = 0x01

    private static func symbol<T>(_ name: String, as: T.Type) -> T {
        guard let pointer = dlsym(UnsafeMutableRawPointer(bitPattern: 0), name) else { fatalError("glibc has no \(name)") }
        return unsafeBitCast(pointer, to: T.self)
    }

    typealias SetXattr = @convention(c) (UnsafePointer<CChar>, UnsafePointer<CChar>, UnsafeRawPointer?, Int, Int32) -> Int32
    typealias GetXattr = @convention(c) (UnsafePointer<CChar>, UnsafePointer<CChar>, UnsafeMutableRawPointer?, Int) -> Int
    typealias ListXattr = @convention(c) (UnsafePointer<CChar>, UnsafeMutablePointer<CChar>?, Int) -> Int
    typealias Fallocate = @convention(c) (Int32, Int32, Int, Int) -> Int32
    typealias Renameat2 = @convention(c) (Int32, UnsafePointer<CChar>, Int32, UnsafePointer<CChar>, UInt32) -> Int32

    nonisolated(unsafe) static let lsetxattr = symbol("lsetxattr", as: SetXattr.self)
    nonisolated(unsafe) static let lgetxattr = symbol("lgetxattr", as: GetXattr.self)
    nonisolated(unsafe) static let llistxattr = symbol("llistxattr", as: ListXattr.self)
    nonisolated(unsafe) static let fallocate = symbol("fallocate", as: Fallocate.self)
    nonisolated(unsafe) static let renameat2 = symbol("renameat2", as: Renameat2.self)
}

import SystemPackage

/// Runs one of swift-system's calls and hands back its `Errno` as a typed error.
///
/// swift-system declares its calls `throws` but throws only `Errno`; the layer's callers
/// (ledger, send stream, scrub reader) each map the code to their own error, which typed
/// throws lets them do without a cast. `retryOnInterrupt` is always left at swift-system's
/// default, true: that is the layer's whole EINTR rule (see README.md).
@inline(__always)
func systemCall<T>(_ body: () throws -> T) throws(Errno) -> T {
    do {
        return try body()
    } catch let error as Errno {
        throw error
    } catch {
        // Unreachable while swift-system throws only Errno; EIO keeps callers on a real code.
        throw Errno.ioError
    }
}

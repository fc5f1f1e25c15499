import SystemPackage

extension DuetError {
    /// A failed call of the descriptor layer, worded as `system(_:_:errno:)` words every other.
    public static func system(_ call: String, _ subject: String, _ error: Errno) -> DuetError {
        system(call, subject, errno: error.rawValue)
    }
}

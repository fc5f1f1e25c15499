import Foundation

/// A non-negative integer from `JSONSerialization` output (an `NSNumber`), or nil.
public func jsonUInt64(_ value: Any?) -> UInt64? { (value as? NSNumber)?.uint64Value }

/// A stream that contradicts the tree the tracker has built. The kernel never produces one, so
/// these mean a corrupt or foreign stream: rewriting paths on top of it would be guesswork.
/// `commandIndex` counts commands from 0 in the order they were handed to the tracker.
public enum PathTrackerError: Error, Hashable, Sendable, CustomStringConvertible {
    /// A name that cannot exist: in a directory created by this stream, or one the stream emptied.
    case notFound(SendPath, commandIndex: Int)
    /// A path goes through something that is not a directory.
    case notADirectory(SendPath, commandIndex: Int)
    /// A create or link onto a name that is in use.
    case nameInUse(SendPath, commandIndex: Int)
    /// RMDIR of a directory that still has entries.
    case directoryNotEmpty(SendPath, commandIndex: Int)
    /// A directory renamed into its own subtree, or the subvolume root renamed or removed.
    case invalidMove(from: SendPath, to: SendPath, commandIndex: Int)
    /// A command lacks an attribute the tracker needs.
    case badCommand(SendAttributeError, commandIndex: Int)

    public var description: String {
        switch self {
        case .notFound(let path, let index):
            "command \(index): \"\(path)\" does not exist in the receiver's tree"
        case .notADirectory(let path, let index):
            "command \(index): a component of \"\(path)\" is not a directory"
        case .nameInUse(let path, let index):
            "command \(index): \"\(path)\" already exists"
        case .directoryNotEmpty(let path, let index):
            "command \(index): directory \"\(path)\" is not empty"
        case .invalidMove(let from, let to, let index):
            "command \(index): cannot move \"\(from)\" to \"\(to)\""
        case .badCommand(let error, let index):
            "command \(index): \(error)"
        }
    }
}

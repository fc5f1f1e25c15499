import DuetFS
import Foundation
import Glibc
import SystemPackage

/// A send refused before any stream was written, with the message `btrfs send` gives for the
/// same mistake (printed after "ERROR: ").
public struct SendRefusal: Error, CustomStringConvertible, Sendable, Equatable {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// The checks `btrfs send` (btrfs-progs 6.2 `cmd_send`) makes before it sends anything, in its
/// order and with its messages, so that a script or a test suite comparing error output sees
/// the same first error from `duet send`. Paths in messages are the resolved ones where btrfs
/// resolves them (`realpath`) and as given where it does not.
public enum SendPreflight {
    /// `-c`: on a btrfs mount, a subvolume, read-only.
    public static func checkCloneSource(_ path: String) throws(SendRefusal) {
        // btrfs-progs' message here ends in a newline of its own, hence the blank line after it.
        guard let resolved = resolve(path) else { throw SendRefusal("realpath \(path) failed: \(reason(errno))\n") }
        _ = try mountRoot(
            of: resolved, failure: { "failed to determine mount point for \(resolved): \(reason($0))" },
            notBtrfs: "\(resolved) doesn't belong to btrfs mount point")
        guard try isReadOnly(resolved) else { throw SendRefusal("cloned subvolume \(resolved) is not read-only") }
    }

    /// `-p`: only one, a subvolume, read-only. Returns the resolved path.
    public static func checkParent(_ paths: [String]) throws(SendRefusal) -> String? {
        guard let path = paths.first else { return nil }
        guard paths.count == 1 else { throw SendRefusal("you cannot have more than one parent (-p)") }
        guard let resolved = resolve(path) else { throw SendRefusal("realpath \(path) failed: \(reason(errno))") }
        guard try isReadOnly(resolved) else { throw SendRefusal("parent subvolume \(resolved) is not read-only") }
        return resolved
    }

    /// The output, once open: never a terminal, where a binary stream is of no use.
    public static func checkOutput(_ output: SendOutput) throws(SendRefusal) {
        if output.isTerminal { throw SendRefusal("not dumping send stream into a terminal, redirect it into a file") }
    }

    /// The snapshots, once the output is open: all on the mount of the first (the parent too),
    /// each a read-only subvolume.
    public static func checkSnapshots(_ paths: [String], resolvedParent: String?) throws(SendRefusal) {
        guard let first = paths.first else { return }
        guard let resolvedFirst = resolve(first) else { throw SendRefusal("unable to resolve \(first)") }
        let root = try mountRoot(
            of: resolvedFirst, failure: { "failed to determine mount point for \(resolvedFirst): \(reason($0))" },
            notBtrfs: "\(resolvedFirst) doesn't belong to btrfs mount point")
        if let resolvedParent, !isInside(resolvedParent, root) {
            throw SendRefusal("not on mount point: \(root)")
        }
        for path in paths {
            guard let resolved = resolve(path) else { throw SendRefusal("unable to resolve \(path)") }
            let mount = try mountRoot(
                of: resolved, failure: { "find_mount_root failed on \(resolved): \(reason($0))" },
                notBtrfs: "\(resolved) does not belong to btrfs mount point")
            guard mount == root else { throw SendRefusal("all subvolumes must be from the same filesystem") }
            guard try isReadOnly(resolved) else { throw SendRefusal("subvolume \(resolved) is not read-only") }
        }
    }

    /// `--proto` and `--compressed-data` against the kernel. Returns the version to request
    /// (0: the highest the kernel sends).
    public static func checkProtocol(
        requested: UInt64?, compressed: Bool,
        supported: UInt32 = KernelSend.highestVersion()
    ) throws(SendRefusal) -> UInt32 {
        if let requested, requested > UInt64(UInt32.max) { throw SendRefusal("protocol version number too big \(requested)") }
        var version = requested.map { UInt32($0) } ?? 1
        if supported == 1 && version > supported {
            throw SendRefusal("requested version \(version) but kernel supports only \(supported)")
        }
        if compressed {
            if version == 1 && requested == nil { version = 2 }
            if version == 1 { throw SendRefusal("--compressed-data requires protocol version >= 2 (requested 1)") }
            if version == 0 && supported < 2 { throw SendRefusal("kernel does not support --compressed-data") }
        }
        return version
    }

    /// The refusal of a version this kernel does not send: btrfs-progs passes it on and reports
    /// the ioctl's EPROTO once the send of the first subvolume starts.
    public static func unsupportedVersion() -> SendRefusal {
        SendRefusal("send ioctl failed with -\(EPROTO): \(reason(EPROTO))")
    }

    // MARK: helpers

    static func resolve(_ path: String) -> String? {
        guard let resolved = realpath(path, nil) else { return nil }
        defer { free(resolved) }
        return String(cString: resolved)
    }

    static func reason(_ code: Int32) -> String { String(cString: strerror(code)) }

    /// The mount point of the mount holding `path` (the longest mount point it is inside, the
    /// later one of equal length, as btrfs-progs' `find_mount_root` reads `/proc/self/mounts`).
    static func mountRoot(of path: String, failure: (Int32) -> String, notBtrfs: String) throws(SendRefusal) -> String {
        // O_NOATIME as btrfs send opens: a user who does not own the path gets its EPERM, the
        // same refusal with the same message as btrfs send gives without root.
        do {
            try FileDescriptor.open(path, .readOnly, options: .noAccessTime).closeIgnoringErrors()
        } catch {
            throw SendRefusal(failure(error.rawValue))
        }
        // Refused as EIO with the path named: the table's own error adds nothing to act on.
        guard let table = try? MountTable.current() else { throw SendRefusal(failure(EIO)) }
        var best: MountTable.Entry?
        for entry in table.entries where isInside(path, entry.mountPoint) {
            if best == nil || entry.mountPoint.utf8.count >= best!.mountPoint.utf8.count { best = entry }
        }
        guard let best else { throw SendRefusal(failure(ENOENT)) }
        guard best.isBtrfs else { throw SendRefusal(notBtrfs) }
        return resolve(best.mountPoint) ?? best.mountPoint
    }

    static func isInside(_ path: String, _ directory: String) -> Bool {
        directory == "/" || path == directory || path.hasPrefix(directory + "/")
    }

    /// btrfs-progs' `is_subvol_ro`, with its two messages.
    static func isReadOnly(_ path: String) throws(SendRefusal) -> Bool {
        let descriptor: FileDescriptor
        do {
            descriptor = try FileDescriptor.open(path, .readOnly, options: .noAccessTime)
        } catch {
            throw SendRefusal("cannot open \(path): \(reason(error.rawValue))")
        }
        defer { descriptor.closeIgnoringErrors() }
        do {
            return try Subvolumes.isReadOnly(descriptor: descriptor.rawValue)
        } catch {
            throw SendRefusal("failed to get flags for subvolume \(path): \(reason((error as? DuetError)?.errno ?? EINVAL))")
        }
    }
}

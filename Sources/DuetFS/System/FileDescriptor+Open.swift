import SystemPackage

extension FileDescriptor {
    /// `open(2)` of `path` with `O_CLOEXEC` always added: no descriptor of ours should leak into
    /// a child (`btrfs receive`, the kernel-patch helper, a test's subprocess).
    public static func open(
        _ path: String, _ mode: AccessMode, options: OpenOptions = [],
        permissions: FilePermissions? = nil
    ) throws(Errno) -> FileDescriptor {
        try systemCall {
            try FileDescriptor.open(FilePath(path), mode, options: options.union(.closeOnExec), permissions: permissions)
        }
    }

    /// `close(2)`, for descriptors whose owner cannot act on a failure (the data was already
    /// synced or only read); a failed close there says nothing that changes what happens next.
    public func closeIgnoringErrors() {
        _ = try? close()
    }
}

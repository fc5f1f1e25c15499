import CDuet
import SystemPackage

extension FileDescriptor.OpenOptions {
    /// `O_DIRECT`: reads bypass the page cache, so a scrub sees the disk's bytes and evicts
    /// nothing. A GNU extension whose value differs per architecture, hence from CDuet.
    public static var direct: Self { Self(rawValue: duet_open_flag_direct()) }

    /// `O_NOATIME`: opening does not update the access time. The kernel refuses it (EPERM) to a
    /// caller that does not own the file, as btrfs send's open does.
    public static var noAccessTime: Self { Self(rawValue: duet_open_flag_noatime()) }
}

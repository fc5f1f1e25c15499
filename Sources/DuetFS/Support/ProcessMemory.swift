import CDuet

/// What a long pass with phases of large, short-lived arrays needs from glibc's malloc so
/// that freed memory leaves the process. By default glibc raises its mmap threshold each time
/// a large mapped block is freed (up to 32 MiB), after which blocks that size come from the
/// heap and stay resident when freed: `duet send` of a million files kept 48 MiB of its freed
/// path tracker while it planned the data (issue 14 bounds its peak RSS).
public enum ProcessMemory {
    /// Blocks of 1 MiB and more are mapped on their own and unmapped when freed, whatever was
    /// freed before. Affects the whole process: call it once, from a command that wants it.
    public static func mapLargeBlocks() {
        _ = duet_set_mmap_threshold(1 << 20)
    }

    /// Hands free heap pages back to the kernel, after a phase's arrays are gone.
    public static func returnFreePages() {
        _ = duet_malloc_trim()
    }
}

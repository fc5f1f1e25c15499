#ifndef CDUET_H
#define CDUET_H

/* The one place where Duet touches the kernel's uapi: struct layouts come from the
 * installed <linux/btrfs.h>, and the ioctl request numbers (function-like macros that
 * Swift cannot import) are exported as inline functions. */

#include <stddef.h>
#include <stdint.h>
#include <sys/ioctl.h>
#include <sys/vfs.h>
#include <linux/types.h>
#include <linux/fs.h>
#include <linux/fiemap.h>
#include <linux/btrfs.h>
#include <linux/btrfs_tree.h>

/* ioctl(2) is variadic and not callable from Swift. */
static inline int duet_ioctl(int fd, unsigned long request, void *argument) {
    return ioctl(fd, request, argument);
}

static inline unsigned long duet_ioc_fs_info(void) { return BTRFS_IOC_FS_INFO; }
static inline unsigned long duet_ioc_dev_info(void) { return BTRFS_IOC_DEV_INFO; }
static inline unsigned long duet_ioc_get_dev_stats(void) { return BTRFS_IOC_GET_DEV_STATS; }
static inline unsigned long duet_ioc_tree_search_v2(void) { return BTRFS_IOC_TREE_SEARCH_V2; }
static inline unsigned long duet_ioc_logical_ino_v2(void) { return BTRFS_IOC_LOGICAL_INO_V2; }
static inline unsigned long duet_ioc_ino_paths(void) { return BTRFS_IOC_INO_PATHS; }
static inline unsigned long duet_ioc_ino_lookup(void) { return BTRFS_IOC_INO_LOOKUP; }
static inline unsigned long duet_ioc_sync(void) { return BTRFS_IOC_SYNC; }
static inline unsigned long duet_ioc_start_sync(void) { return BTRFS_IOC_START_SYNC; }
static inline unsigned long duet_ioc_wait_sync(void) { return BTRFS_IOC_WAIT_SYNC; }
static inline unsigned long duet_ioc_scrub(void) { return BTRFS_IOC_SCRUB; }
static inline unsigned long duet_ioc_scrub_cancel(void) { return BTRFS_IOC_SCRUB_CANCEL; }
static inline unsigned long duet_ioc_scrub_progress(void) { return BTRFS_IOC_SCRUB_PROGRESS; }
static inline unsigned long duet_ioc_send(void) { return BTRFS_IOC_SEND; }
static inline unsigned long duet_ioc_encoded_read(void) { return BTRFS_IOC_ENCODED_READ; }
static inline unsigned long duet_ioc_get_subvol_info(void) { return BTRFS_IOC_GET_SUBVOL_INFO; }
static inline unsigned long duet_ioc_fiemap(void) { return FS_IOC_FIEMAP; }

/* CRC32C (Castagnoli), the raw register update: crc = duet_crc32c_update(crc, data, len).
 * Uses SSE4.2 when the CPU has it, a slicing table otherwise. btrfs stores ~update(~0, ...). */
uint32_t duet_crc32c_update(uint32_t crc, const void *data, size_t length);
/* The portable path alone, so tests can check both paths give the same answers. */
uint32_t duet_crc32c_update_portable(uint32_t crc, const void *data, size_t length);
int duet_crc32c_is_hardware(void);

/* open(2) flags that are GNU extensions, which Swift's Glibc module does not export: their
 * values differ between architectures, so they come from <fcntl.h> compiled with _GNU_SOURCE. */
int duet_open_flag_direct(void);
int duet_open_flag_noatime(void);

/* ---- cachestat(2), added by the mapping/creditor work (Sources/DuetFS/Events/CachestatScanner.swift) ----
 * Syscall 451 (Linux 6.5+, CONFIG_CACHESTAT_SYSCALL); glibc has no wrapper and syscall(2) is
 * variadic, so Swift cannot call it directly. Layouts match include/uapi/linux/mman.h. length 0 =
 * to the end of the file. Returns 0, or -1 with errno (ENOSYS on kernels without it). */
#include <unistd.h>
#include <malloc.h>

/* glibc's malloc tuning, which Swift's Glibc module does not export. */
static inline int duet_malloc_trim(void) { return malloc_trim(0); }
static inline int duet_set_mmap_threshold(int bytes) { return mallopt(M_MMAP_THRESHOLD, bytes); }
#include <sys/syscall.h>
struct duet_cachestat_range { uint64_t off; uint64_t len; };
struct duet_cachestat {
    uint64_t nr_cache, nr_dirty, nr_writeback, nr_evicted, nr_recently_evicted;
};
static inline int duet_cachestat(int fd, uint64_t offset, uint64_t length, struct duet_cachestat *out) {
    struct duet_cachestat_range range = { offset, length };
    return (int)syscall(451, fd, &range, out, 0);
}

#endif

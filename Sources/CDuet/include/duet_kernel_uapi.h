/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
#ifndef CDUET_KERNEL_UAPI_H
#define CDUET_KERNEL_UAPI_H

/* The ABI of /dev/duet, the Duet kernel framework (kernel-patches/linux-6.12, patch 0002,
 * include/uapi/linux/duet.h), for Sources/DuetFS/Events/KernelEventSource.swift.
 *
 * Between the BEGIN and END markers is a copy of that header's definitions (the
 * `#define DUET_*` lines and the `struct duet_*` bodies). scripts/kernel/check-uapi
 * compares them with the header in the patch (comments and whitespace ignored) and
 * scripts/kernel/build and scripts/kernel/initramfs fail when they differ: after a
 * change to the series, copy the new definitions here.
 *
 * No distribution ships <linux/duet.h>, so the copy is always used; the include
 * guard is the kernel's, so that including both never redefines anything. */

#include <stdint.h>
#include <sys/ioctl.h>
#include <linux/types.h>
#include <linux/ioctl.h>

#ifndef _UAPI_LINUX_DUET_H
#define _UAPI_LINUX_DUET_H

/* BEGIN duet.h uapi copy */
/* Page-cache events (struct duet_register.evtmask, struct duet_item.state) */
#define DUET_PAGE_ADDED		0x0001	/* folio inserted in the page cache */
#define DUET_PAGE_REMOVED	0x0002	/* folio deleted from the page cache */
#define DUET_PAGE_DIRTY		0x0004	/* folio marked dirty */
#define DUET_PAGE_FLUSHED	0x0008	/* dirty bit cleared for writeback */
#define DUET_PAGE_EVENTS	0x000f

/*
 * Notification models (struct duet_register.model)
 * EVENT: an item carries the OR of the events since it was last read.
 * STATE: an item carries the net change; ADDED+REMOVED and DIRTY+FLUSHED
 *        cancel each other.
 */
#define DUET_MODEL_EVENT	0
#define DUET_MODEL_STATE	1

/*
 * Key space of the done-set (struct duet_register.keyspace)
 * NONE:  the done-set is the task's own bookkeeping, events are not filtered.
 * INODE: keys are inode numbers; events of inodes in the done-set are dropped.
 */
#define DUET_KEY_NONE		0
#define DUET_KEY_INODE		1

/* struct duet_register.flags */
#define DUET_REG_SUBVOL		0x0001	/* only the btrfs subvolume of scope_fd */
#define DUET_REG_NO_SCAN	0x0002	/* do not report already-cached pages */
#define DUET_REG_NONBLOCK	0x0004	/* task fd is O_NONBLOCK */
#define DUET_REG_FLAGS		0x0007

#define DUET_NAME_LEN		32

struct duet_register {
	__s32	scope_fd;	/* fd of a mount point or directory */
	__u32	evtmask;	/* DUET_PAGE_* events of interest */
	__u32	model;		/* DUET_MODEL_* */
	__u32	keyspace;	/* DUET_KEY_* */
	__u32	flags;		/* DUET_REG_* */
	__u32	max_pending;	/* bound on pending items, 0: default */
	__u64	reserved[2];	/* must be zero */
	char	name[DUET_NAME_LEN];	/* NUL-terminated, for status only */
};

/* One pending page, as returned by read() on a task fd: 32 bytes. */
struct duet_item {
	__u64	ino;		/* inode number */
	__u64	root;		/* btrfs subvolume (root) id, 0 elsewhere */
	__u64	index;		/* page index, in units of the page size */
	__u32	gen;		/* inode generation */
	__u32	state;		/* DUET_PAGE_* bits */
};

/* A range of done-set keys: [start, start + len). */
struct duet_range {
	__u64	start;
	__u64	len;
	__u32	result;		/* CHECK_DONE: 1 if every key is done */
	__u32	reserved;
};

struct duet_status {
	char	name[DUET_NAME_LEN];
	__u32	evtmask;
	__u32	model;
	__u32	keyspace;
	__u32	flags;
	__u64	scope_root;	/* root id for DUET_REG_SUBVOL, else 0 */
	__u32	page_size;	/* unit of duet_item.index */
	__u32	max_pending;
	__u64	pending;	/* items waiting to be read */
	__u64	events;		/* page events accepted by the probes */
	__u64	scanned;	/* pages reported by the registration scan */
	__u64	read;		/* items returned by read() */
	__u64	filtered;	/* page events dropped by the done-set */
	__u64	cancelled;	/* items cancelled by the state model */
	__u64	dropped;	/* sum of the dropped_* counters */
	__u64	dropped_ring;	/* per-CPU buffer full in probe context */
	__u64	dropped_limit;	/* max_pending reached */
	__u64	dropped_nomem;	/* item allocation failed */
	__u64	dropped_fault;	/* items lost to a failed copy to user */
	__u64	done_ranges;	/* disjoint ranges in the done-set */
	__u64	reserved[4];
};

#define DUET_IOC_MAGIC		0xDE

/* On /dev/duet: returns a new task fd. */
#define DUET_IOC_REGISTER	_IOW(DUET_IOC_MAGIC, 0x01, struct duet_register)

/* On a task fd. */
#define DUET_IOC_SET_DONE	_IOW(DUET_IOC_MAGIC, 0x10, struct duet_range)
#define DUET_IOC_UNSET_DONE	_IOW(DUET_IOC_MAGIC, 0x11, struct duet_range)
#define DUET_IOC_CHECK_DONE	_IOWR(DUET_IOC_MAGIC, 0x12, struct duet_range)
#define DUET_IOC_STATUS		_IOR(DUET_IOC_MAGIC, 0x20, struct duet_status)
/* END duet.h uapi copy */

#endif /* _UAPI_LINUX_DUET_H */

/* The ioctl numbers, which Swift cannot import (function-like macros). Call them with
 * duet_ioctl() from cduet.h. */
static inline unsigned long duet_kernel_ioc_register(void) { return DUET_IOC_REGISTER; }
static inline unsigned long duet_kernel_ioc_set_done(void) { return DUET_IOC_SET_DONE; }
static inline unsigned long duet_kernel_ioc_unset_done(void) { return DUET_IOC_UNSET_DONE; }
static inline unsigned long duet_kernel_ioc_check_done(void) { return DUET_IOC_CHECK_DONE; }
static inline unsigned long duet_kernel_ioc_status(void) { return DUET_IOC_STATUS; }

/* Register and return the task fd (or -1 with errno): ioctl(2) on /dev/duet returns the new fd. */
static inline int duet_kernel_register(int devfd, struct duet_register *request) {
	return ioctl(devfd, DUET_IOC_REGISTER, request);
}

_Static_assert(sizeof(struct duet_item) == 32, "struct duet_item is 32 bytes");
_Static_assert(sizeof(struct duet_register) == 72, "struct duet_register is 72 bytes");
_Static_assert(sizeof(struct duet_range) == 24, "struct duet_range is 24 bytes");

#endif /* CDUET_KERNEL_UAPI_H */

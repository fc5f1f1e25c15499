/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Minimal CO-RE kernel type definitions for duet.bpf.c.
 *
 * Instead of a generated vmlinux.h (134k lines on 6.18), this file declares only
 * the structures and fields the probes read. Every struct carries
 * preserve_access_index, so clang records each field access as a CO-RE
 * relocation and libbpf rewrites the offsets against the running kernel's BTF
 * (/sys/kernel/btf/vmlinux) at load time. Field order and padding here are
 * irrelevant; names and types must match the kernel's.
 *
 * Checked against `bpftool btf dump file /sys/kernel/btf/vmlinux format c` on
 * 6.18.44. To add a field: look it up there, copy the declaration, keep the
 * kernel's name.
 */
#ifndef DUET_TYPES_H
#define DUET_TYPES_H

typedef unsigned char __u8;
typedef unsigned short __u16;
typedef unsigned int __u32;
typedef unsigned long long __u64;
typedef signed char __s8;
typedef short __s16;
typedef int __s32;
typedef long long __s64;
typedef __u16 __be16;
typedef __u32 __be32;
typedef __u32 __wsum;
typedef __u8 u8;
typedef __u16 u16;
typedef __u32 u32;
typedef __u64 u64;
typedef _Bool bool;
#define true 1
#define false 0
typedef __u32 dev_t;

/* From <linux/bpf.h>: only what bpf_helpers.h and the probes use. */
enum bpf_map_type {
	BPF_MAP_TYPE_PERCPU_ARRAY = 6,
	BPF_MAP_TYPE_RINGBUF = 27,
};

enum {
	BPF_RB_NO_WAKEUP = (1ULL << 0),
	BPF_RB_FORCE_WAKEUP = (1ULL << 1),
};

enum {
	BPF_RB_AVAIL_DATA = 0,
	BPF_RB_RING_SIZE = 1,
	BPF_RB_CONS_POS = 2,
	BPF_RB_PROD_POS = 3,
};

#pragma clang attribute push (__attribute__((preserve_access_index)), apply_to = record)

/* 6.18 wraps page/folio flags in a struct; earlier kernels use a plain unsigned long. */
typedef struct {
	unsigned long f;
} memdesc_flags_t;

struct address_space;

struct folio {
	memdesc_flags_t flags;
	struct address_space *mapping;
	unsigned long index;
	/* Second page of a large folio: bits 0-7 hold the order (folio_large_order()). */
	unsigned long _flags_1;
};

/* The same folio on kernels before memdesc_flags_t (CO-RE "flavor": suffix after ___). */
struct folio___flat {
	unsigned long flags;
};

struct super_block {
	dev_t s_dev;
	unsigned long s_magic;
};

struct inode {
	struct super_block *i_sb;
	unsigned long i_ino;
};

struct address_space {
	struct inode *host;
};

struct btrfs_key {
	__u64 objectid;
	__u8 type;
	__u64 offset;
} __attribute__((packed));

struct btrfs_root {
	struct btrfs_key root_key;
};

struct btrfs_inode {
	struct btrfs_root *root;
	struct inode vfs_inode;
};

struct btrfs_ordered_extent {
	__u64 file_offset;
	__u64 num_bytes;
	__u64 disk_bytenr;
	__u64 disk_num_bytes;
	unsigned long flags;
};

struct writeback_control;

#pragma clang attribute pop

/* enum pageflags: CO-RE reads the kernel's value of PG_head at load time. */
enum pageflags {
	PG_head = 6,
};

#endif /* DUET_TYPES_H */

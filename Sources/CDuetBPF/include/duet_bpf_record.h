/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The record the BPF probes put in the ring buffer, shared by bpf/duet.bpf.c and
 * the loader. Plain C types only: this header is compiled for -target bpf too.
 */
#ifndef DUET_BPF_RECORD_H
#define DUET_BPF_RECORD_H

/* Same raw values as Swift's CacheEvent.Kind. */
enum duet_bpf_kind {
	DUET_BPF_ADDED = 1,              /* mm_filemap_add_to_page_cache */
	DUET_BPF_REMOVED = 2,            /* mm_filemap_delete_from_page_cache */
	DUET_BPF_DIRTIED = 3,            /* writeback_dirty_folio */
	DUET_BPF_WRITEBACK_STARTED = 4,  /* btrfs extent_writepage */
	DUET_BPF_WRITEBACK_FINISHED = 5, /* btrfs_finish_ordered_extent (uptodate only) */
	DUET_BPF_EXTENT_WRITTEN = 6,     /* btrfs_ordered_extent_mark_finished (no I/O error) */
};

/* 48 bytes, naturally aligned; the ring buffer rounds each record up to 8 bytes plus an 8-byte header. */
struct duet_bpf_record {
	unsigned char kind;         /* enum duet_bpf_kind */
	unsigned char order;        /* folio order (page events); 0 otherwise */
	unsigned short reserved;
	unsigned int dev;           /* super_block.s_dev: major << 20 | minor */
	unsigned long long root;    /* btrfs root (subvolume) id of the inode */
	unsigned long long ino;
	unsigned long long index;   /* first page index */
	unsigned long long count;   /* number of pages */
	unsigned long long logical; /* DUET_BPF_EXTENT_WRITTEN: btrfs logical byte address; else 0 */
};

/*
 * Per-CPU state of the probes (the "cpu_state" per-CPU array). Page events that continue
 * the previous one on the same CPU (same kind and file, next page) are merged into `run`
 * instead of taking a ring buffer record each: a sequential read or eviction of a file
 * becomes one record per run. The run goes to the ring buffer when an event does not
 * continue it, when the loader asks (a flush program run on every CPU at each poll, so a
 * run waits at most about one poll interval), and after detaching (the loader drains it).
 */
struct duet_bpf_cpu_state {
	unsigned long long lost;     /* records dropped because the ring buffer was full */
	unsigned long long pending;  /* records submitted since the wake-up threshold was last checked */
	unsigned long long busy;     /* a probe on this CPU is updating `run`: an interrupting one leaves it alone */
	unsigned long long run_valid;
	struct duet_bpf_record run;
};

#endif /* DUET_BPF_RECORD_H */

// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Duet page-cache probes: BTF tracepoints (tp_btf) that report page-cache and
 * btrfs writeback events for watched btrfs superblocks, with the btrfs root
 * (subvolume) id that the stock filemap tracepoints do not carry.
 *
 * Build: scripts/gen-bpf-skeleton (compiles this file and regenerates
 * ../duet.skel.h, which is committed).
 *
 * Costs (reference/btrfs-interfaces.md §1.5): direct BTF dereferences cost about
 * 150 ns per event, BPF_CORE_READ chains about 330 ns, so every read here is a
 * plain dereference of a BTF pointer (still CO-RE relocated through
 * preserve_access_index in duet_types.h).
 */
#include "duet_types.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include "../include/duet_bpf_record.h"

#define BTRFS_SUPER_MAGIC 0x9123683EUL
#define PAGE_SHIFT 12
/* Anonymous enum in fs/btrfs/ordered-data.h, so no CO-RE enum relocation; stable since 2008. */
#define BTRFS_ORDERED_IOERR 7

char LICENSE[] SEC("license") = "Dual BSD/GPL";

/* Set by the loader before load (rodata). */
const volatile __u64 wakeup_bytes = 1 << 20;

/*
 * The super_block.s_dev values to report, filled by the loader through the
 * memory-mapped .bss map (duet_bpf_watch() changes it while attached). A short
 * array scan costs a few ns; a BPF hash map lookup cost ~30 ns per event here.
 * watched_count is written after the entry it exposes.
 */
#define MAX_WATCHED 64
__u32 watched_devs[MAX_WATCHED];
__u32 watched_count;

/* Size set by the loader (bpf_map__set_max_entries) before load. */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 16 << 20);
} events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct duet_bpf_cpu_state);
} cpu_state SEC(".maps");

/* How often (records per CPU) a probe asks the ring buffer how much data waits.
 * bpf_ringbuf_query() on every record cost ~85 ns (it reads the consumer's cache line). */
#define WAKEUP_CHECK_INTERVAL 64

/* Turns a PTR_TO_BTF_ID with a negative offset (container_of) into a readable pointer.
 * The verifier rewrites the call into a register move: it costs nothing at run time. */
extern void *bpf_rdonly_cast(const void *obj, __u32 btf_id) __ksym;

static __always_inline bool watched(const struct super_block *sb)
{
	if (sb->s_magic != BTRFS_SUPER_MAGIC)
		return false;
	__u32 dev = sb->s_dev;
	__u32 count = watched_count;
	for (__u32 i = 0; i < MAX_WATCHED; i++) {
		if (i >= count)
			break;
		if (watched_devs[i] == dev)
			return true;
	}
	return false;
}

static __always_inline __u64 btrfs_root_of_inode(const struct inode *inode)
{
	const struct btrfs_inode *bi = bpf_rdonly_cast(
		(const void *)((const char *)inode - bpf_core_field_offset(struct btrfs_inode, vfs_inode)),
		bpf_core_type_id_kernel(struct btrfs_inode));
	const struct btrfs_root *root = bi->root;
	return root->root_key.objectid;
}

static __always_inline __u8 folio_order_of(const struct folio *folio)
{
	unsigned long flags;
	if (bpf_core_type_exists(memdesc_flags_t))
		flags = folio->flags.f;
	else
		flags = ((const struct folio___flat *)folio)->flags;
	if (!(flags & (1UL << bpf_core_enum_value(enum pageflags, PG_head))))
		return 0;
	/* folio_large_order(): the low byte of the second page's flags. */
	return folio->_flags_1 & 0xff;
}

/* Puts one record in the ring buffer; counts it as lost when the buffer is full. */
static __always_inline void submit(struct duet_bpf_cpu_state *c, __u8 kind, __u8 order, __u32 dev, __u64 root,
				   __u64 ino, __u64 index, __u64 count, __u64 logical)
{
	struct duet_bpf_record *r = bpf_ringbuf_reserve(&events, sizeof(*r), 0);
	if (!r) {
		c->lost += 1;
		return;
	}
	r->kind = kind;
	r->order = order;
	r->reserved = 0;
	r->dev = dev;
	r->root = root;
	r->ino = ino;
	r->index = index;
	r->count = count;
	r->logical = logical;
	/* Batch wake-ups: the reader polls with a timeout and consumes anyway; wake it
	 * early only when enough data is waiting (checked every WAKEUP_CHECK_INTERVAL records). */
	__u64 flags = BPF_RB_NO_WAKEUP;
	if (++c->pending >= WAKEUP_CHECK_INTERVAL) {
		c->pending = 0;
		if (bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA) > wakeup_bytes)
			flags = BPF_RB_FORCE_WAKEUP;
	}
	bpf_ringbuf_submit(r, flags);
}

static __always_inline void submit_run(struct duet_bpf_cpu_state *c)
{
	submit(c, c->run.kind, c->run.order, c->run.dev, c->run.root, c->run.ino, c->run.index, c->run.count, 0);
	c->run_valid = 0;
}

static __always_inline struct duet_bpf_cpu_state *cpu(void)
{
	__u32 zero = 0;
	return bpf_map_lookup_elem(&cpu_state, &zero);
}

/* A record that is never merged (writeback finished, extent written). It may overtake a
 * run that waits on this CPU; user space allows for that (Creditor: reorder window). */
static __always_inline void emit(__u8 kind, __u8 order, __u32 dev, __u64 root, __u64 ino,
				 __u64 index, __u64 count, __u64 logical)
{
	struct duet_bpf_cpu_state *c = cpu();
	if (c)
		submit(c, kind, order, dev, root, ino, index, count, logical);
}

/* A page event: merged into this CPU's run when it continues it. */
static __always_inline void emit_page(__u8 kind, __u8 order, __u32 dev, __u64 root, __u64 ino, __u64 index)
{
	struct duet_bpf_cpu_state *c = cpu();
	if (!c)
		return;
	__u64 count = 1ULL << order;
	if (c->busy) {
		/* We interrupted a probe updating the run on this CPU: do not touch it. */
		submit(c, kind, order, dev, root, ino, index, count, 0);
		return;
	}
	c->busy = 1;
	if (c->run_valid) {
		if (c->run.kind == kind && c->run.ino == ino && c->run.root == root && c->run.dev == dev &&
		    c->run.index + c->run.count == index && c->run.count < (1ULL << 30)) {
			c->run.count += count;
			c->busy = 0;
			return;
		}
		submit_run(c);
	}
	c->run.kind = kind;
	c->run.order = order;
	c->run.reserved = 0;
	c->run.dev = dev;
	c->run.root = root;
	c->run.ino = ino;
	c->run.index = index;
	c->run.count = count;
	c->run.logical = 0;
	c->run_valid = 1;
	c->busy = 0;
}

/* Run by the loader on every CPU at each poll (BPF_PROG_TEST_RUN with BPF_F_TEST_RUN_ON_CPU,
 * in interrupt context): hands this CPU's waiting run to the ring buffer. */
SEC("raw_tp")
int duet_flush(void *ctx)
{
	struct duet_bpf_cpu_state *c = cpu();
	if (c && !c->busy && c->run_valid) {
		c->busy = 1;
		submit_run(c);
		c->busy = 0;
	}
	return 0;
}

static __always_inline void page_event(__u8 kind, const struct folio *folio, const struct address_space *mapping)
{
	if (!mapping)
		return;
	const struct inode *host = mapping->host;
	if (!host)
		return;
	const struct super_block *sb = host->i_sb;
	if (!watched(sb))
		return;
	emit_page(kind, folio_order_of(folio), sb->s_dev, btrfs_root_of_inode(host), host->i_ino, folio->index);
}

SEC("tp_btf/mm_filemap_add_to_page_cache")
int BPF_PROG(duet_add, struct folio *folio)
{
	page_event(DUET_BPF_ADDED, folio, folio->mapping);
	return 0;
}

SEC("tp_btf/mm_filemap_delete_from_page_cache")
int BPF_PROG(duet_delete, struct folio *folio)
{
	page_event(DUET_BPF_REMOVED, folio, folio->mapping);
	return 0;
}

/* mapping is trusted_ptr_or_null: the verifier rejects the program without the NULL check in page_event. */
SEC("tp_btf/writeback_dirty_folio")
int BPF_PROG(duet_dirty, struct folio *folio, struct address_space *mapping)
{
	page_event(DUET_BPF_DIRTIED, folio, mapping);
	return 0;
}

/* btrfs writeback start, one folio at a time (fs/btrfs/extent_io.c extent_writepage()). */
SEC("tp_btf/extent_writepage")
int BPF_PROG(duet_writepage, const struct folio *folio, const struct inode *inode,
	     const struct writeback_control *wbc)
{
	const struct super_block *sb = inode->i_sb;
	if (!watched(sb))
		return 0;
	emit_page(DUET_BPF_WRITEBACK_STARTED, folio_order_of(folio), sb->s_dev, btrfs_root_of_inode(inode),
		  inode->i_ino, folio->index);
	return 0;
}

/* A file byte range finished writeback; failed I/O (uptodate false) is not reported. */
SEC("tp_btf/btrfs_finish_ordered_extent")
int BPF_PROG(duet_finish_ordered, const struct btrfs_inode *bi, __u64 start, __u64 len, bool uptodate)
{
	if (!uptodate)
		return 0;
	const struct super_block *sb = bi->vfs_inode.i_sb;
	if (!watched(sb))
		return 0;
	__u64 first = start >> PAGE_SHIFT;
	__u64 end = (start + len + (1 << PAGE_SHIFT) - 1) >> PAGE_SHIFT;
	emit(DUET_BPF_WRITEBACK_FINISHED, 0, sb->s_dev, bi->root->root_key.objectid, bi->vfs_inode.i_ino,
	     first, end - first, 0);
	return 0;
}

/* All I/O of an ordered extent completed: its file range now lives at disk_bytenr (btrfs logical). */
SEC("tp_btf/btrfs_ordered_extent_mark_finished")
int BPF_PROG(duet_ordered_finished, const struct btrfs_inode *bi, const struct btrfs_ordered_extent *oe)
{
	if (oe->flags & (1UL << BTRFS_ORDERED_IOERR))
		return 0;
	const struct super_block *sb = bi->vfs_inode.i_sb;
	if (!watched(sb))
		return 0;
	__u64 start = oe->file_offset;
	__u64 first = start >> PAGE_SHIFT;
	__u64 end = (start + oe->num_bytes + (1 << PAGE_SHIFT) - 1) >> PAGE_SHIFT;
	emit(DUET_BPF_EXTENT_WRITTEN, 0, sb->s_dev, bi->root->root_key.objectid, bi->vfs_inode.i_ino,
	     first, end - first, oe->disk_bytenr);
	return 0;
}

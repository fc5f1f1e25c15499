/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * A small C API over the generated skeleton (duet.skel.h) of bpf/duet.bpf.c:
 * open + load + attach, poll the ring buffer, count losses, destroy.
 *
 * Lifetime: the programs are attached through plain BPF links whose file
 * descriptors belong to this process; nothing is pinned in bpffs. When the process
 * exits or is killed (SIGKILL included) the kernel closes the descriptors and
 * detaches and frees the programs and maps.
 *
 * Threading: one handle is used by one thread at a time, except duet_bpf_lost(),
 * which any thread may call.
 */
#ifndef DUET_BPF_H
#define DUET_BPF_H

#include <stddef.h>
#include "duet_bpf_record.h"

#ifdef __cplusplus
extern "C" {
#endif

struct duet_bpf_handle;

struct duet_bpf_options {
	/* super_block.s_dev values to report (major << 20 | minor), at most 64. */
	const unsigned int *devices;
	size_t device_count;
	/* Ring buffer size in bytes; rounded up to a power of two, at least one page. 0: 16 MiB. */
	size_t ring_bytes;
	/* Probes wake the reader early only when more than this many bytes wait. 0: 1 MiB. */
	size_t wakeup_bytes;
};

/* A batch of records, valid only during the call. */
typedef void (*duet_bpf_batch_fn)(void *context, const struct duet_bpf_record *records, size_t count);

/*
 * Opens, loads (verifier) and attaches the probes and fills the watched-device table.
 * Returns 0 and sets *out, or a negative errno and writes a message into
 * error (naming the step, the program and an excerpt of the verifier log).
 */
int duet_bpf_open(const struct duet_bpf_options *options, struct duet_bpf_handle **out,
		  char *error, size_t error_size);

/*
 * Waits up to timeout_ms for a wake-up, then consumes everything in the ring
 * buffer (also after a timeout: the probes submit with BPF_RB_NO_WAKEUP, so a
 * wake-up comes only past the threshold), calling fn with batches of at most
 * 4096 records. Returns the number of records consumed, or a negative errno.
 */
int duet_bpf_poll(struct duet_bpf_handle *handle, int timeout_ms, duet_bpf_batch_fn fn, void *context);

/* Records dropped because the ring buffer was full, summed over CPUs. */
/* Detaches the probes, then delivers what the ring buffer holds and every run still merged
 * on a CPU. Call once, after the last duet_bpf_poll(), before duet_bpf_destroy(). */
int duet_bpf_finish(struct duet_bpf_handle *handle, duet_bpf_batch_fn fn, void *context);

unsigned long long duet_bpf_lost(struct duet_bpf_handle *handle);

/* Adds or removes a device from the watched set (at most 64), also while attached:
 * the table lives in the program's memory-mapped .bss. 0, or -ENOSPC / -EINVAL. */
int duet_bpf_watch(struct duet_bpf_handle *handle, unsigned int device, int watch);

/* Detaches every program and frees everything. NULL is allowed. */
void duet_bpf_destroy(struct duet_bpf_handle *handle);

#ifdef __cplusplus
}
#endif
#endif /* DUET_BPF_H */

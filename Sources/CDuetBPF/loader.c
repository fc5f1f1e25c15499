// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Loader for the eBPF page-cache probes; see include/duet_bpf.h. */
#include "duet_bpf.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "duet.skel.h"

#define BATCH_RECORDS 4096
#define DEFAULT_RING_BYTES (16u << 20)
#define DEFAULT_WAKEUP_BYTES (1u << 20)

struct duet_bpf_handle {
	struct duet_bpf *skel;
	struct ring_buffer *ring;
	int possible_cpus;
	/* Set for the duration of one duet_bpf_poll(). */
	duet_bpf_batch_fn fn;
	void *context;
	size_t batched;
	struct duet_bpf_record batch[BATCH_RECORDS];
};

/* ---- libbpf diagnostics: kept (the tail) so that a failed load can say why ---- */

static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
static char log_text[16384];
static size_t log_len;

static int capture_print(enum libbpf_print_level level, const char *format, va_list args)
{
	char line[1024];
	int n = vsnprintf(line, sizeof line, format, args);
	if (n <= 0)
		return n;
	if ((size_t)n >= sizeof line)
		n = sizeof line - 1;
	if (getenv("DUET_BPF_VERBOSE"))
		fputs(line, stderr);
	if (level == LIBBPF_DEBUG)
		return n;
	if (log_len + (size_t)n >= sizeof log_text) {
		/* Keep the newest half: verifier logs end with the reason. */
		size_t keep = sizeof log_text / 2;
		if (keep > log_len)
			keep = log_len;
		memmove(log_text, log_text + log_len - keep, keep);
		log_len = keep;
		if ((size_t)n >= sizeof log_text - log_len)
			n = (int)(sizeof log_text - log_len - 1);
	}
	memcpy(log_text + log_len, line, (size_t)n);
	log_len += (size_t)n;
	log_text[log_len] = 0;
	return n;
}

/* Writes "<step>: <strerror>" and the last part of the captured libbpf log. */
static void describe(char *error, size_t size, const char *step, int err)
{
	if (!error || !size)
		return;
	int used = snprintf(error, size, "%s: %s", step, strerror(err < 0 ? -err : err));
	if (used < 0 || (size_t)used >= size || log_len == 0)
		return;
	size_t room = size - (size_t)used;
	const char *tail = log_text;
	if (log_len + 16 > room)
		tail = log_text + log_len - (room > 16 ? room - 16 : 0);
	snprintf(error + used, room, "\n%s", tail);
}

/* ---- ring buffer ---- */

static void flush(struct duet_bpf_handle *h)
{
	if (h->batched && h->fn)
		h->fn(h->context, h->batch, h->batched);
	h->batched = 0;
}

static int on_record(void *ctx, void *data, size_t size)
{
	struct duet_bpf_handle *h = ctx;
	if (size < sizeof(struct duet_bpf_record))
		return 0;
	memcpy(&h->batch[h->batched++], data, sizeof(struct duet_bpf_record));
	if (h->batched == BATCH_RECORDS)
		flush(h);
	return 0;
}

/* Runs the flush program on every online CPU (an IPI each), so merged runs reach the ring
 * buffer. A CPU that is offline, or a kernel without BPF_F_TEST_RUN_ON_CPU for raw_tp, is
 * skipped: its run then waits for its next event or for duet_bpf_finish(). */
static void flush_runs(struct duet_bpf_handle *h)
{
	int fd = bpf_program__fd(h->skel->progs.duet_flush);
	if (fd < 0)
		return;
	for (int cpu = 0; cpu < h->possible_cpus; cpu++) {
		LIBBPF_OPTS(bpf_test_run_opts, opts, .flags = BPF_F_TEST_RUN_ON_CPU, .cpu = (__u32)cpu);
		(void)bpf_prog_test_run_opts(fd, &opts);
	}
}

static size_t round_ring_size(size_t bytes)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE);
	size_t size = page;
	if (bytes == 0)
		bytes = DEFAULT_RING_BYTES;
	while (size < bytes && size < ((size_t)1 << 30))
		size <<= 1;
	return size;
}

int duet_bpf_open(const struct duet_bpf_options *options, struct duet_bpf_handle **out,
		  char *error, size_t error_size)
{
	int err = 0;
	const char *step = "open the BPF object";
	struct duet_bpf_handle *h = NULL;

	if (error && error_size)
		error[0] = 0;
	if (!options || !out || options->device_count > 64) {
		describe(error, error_size, "invalid options (at most 64 devices)", EINVAL);
		return -EINVAL;
	}
	*out = NULL;

	pthread_mutex_lock(&log_lock);
	log_len = 0;
	log_text[0] = 0;
	libbpf_print_fn_t previous = libbpf_set_print(capture_print);

	h = calloc(1, sizeof *h);
	if (!h) {
		err = -ENOMEM;
		step = "allocate the loader state";
		goto fail;
	}
	h->possible_cpus = libbpf_num_possible_cpus();
	if (h->possible_cpus <= 0) {
		err = h->possible_cpus ? h->possible_cpus : -EINVAL;
		step = "count possible CPUs (/sys/devices/system/cpu/possible)";
		goto fail;
	}

	h->skel = duet_bpf__open();
	if (!h->skel) {
		err = -errno;
		step = "open the BPF object (is /sys/kernel/btf/vmlinux readable?)";
		goto fail;
	}
	size_t ring_bytes = round_ring_size(options->ring_bytes);
	err = bpf_map__set_max_entries(h->skel->maps.events, (__u32)ring_bytes);
	if (err) {
		step = "size the ring buffer";
		goto fail;
	}
	/* A threshold near the ring size would let it fill before anyone is woken. */
	size_t wakeup_bytes = options->wakeup_bytes ? options->wakeup_bytes : DEFAULT_WAKEUP_BYTES;
	if (wakeup_bytes > ring_bytes / 4)
		wakeup_bytes = ring_bytes / 4;
	h->skel->rodata->wakeup_bytes = wakeup_bytes;

	err = duet_bpf__load(h->skel);
	if (err) {
		step = "load the BPF programs (verifier or CO-RE relocation failed; needs root, BTF and tp_btf support)";
		goto fail;
	}

	/* .bss is memory-mapped after load: the probes see these stores directly. */
	for (size_t i = 0; i < options->device_count; i++) {
		err = duet_bpf_watch(h, options->devices[i], 1);
		if (err) {
			step = "fill the watched-device table";
			goto fail;
		}
	}

	err = duet_bpf__attach(h->skel);
	if (err) {
		step = "attach the BPF programs to their tracepoints";
		goto fail;
	}

	h->ring = ring_buffer__new(bpf_map__fd(h->skel->maps.events), on_record, h, NULL);
	if (!h->ring) {
		err = -errno;
		step = "open the ring buffer";
		goto fail;
	}

	libbpf_set_print(previous);
	pthread_mutex_unlock(&log_lock);
	*out = h;
	return 0;

fail:
	if (err == 0)
		err = -EINVAL;
	if (err > 0)
		err = -err;
	describe(error, error_size, step, err);
	libbpf_set_print(previous);
	pthread_mutex_unlock(&log_lock);
	duet_bpf_destroy(h);
	return err;
}

int duet_bpf_poll(struct duet_bpf_handle *h, int timeout_ms, duet_bpf_batch_fn fn, void *context)
{
	if (!h)
		return -EINVAL;
	h->fn = fn;
	h->context = context;
	h->batched = 0;
	int n = ring_buffer__poll(h->ring, timeout_ms);
	if (n == -EINTR)
		n = 0;
	if (n >= 0) {
		/* Runs merged on each CPU wait there until they end; hand them over now. */
		flush_runs(h);
		/* BPF_RB_NO_WAKEUP: records may be waiting although poll saw no wake-up. */
		int more = ring_buffer__consume(h->ring);
		n = more < 0 ? more : n + more;
	}
	flush(h);
	h->fn = NULL;
	h->context = NULL;
	return n;
}

int duet_bpf_finish(struct duet_bpf_handle *h, duet_bpf_batch_fn fn, void *context)
{
	if (!h)
		return -EINVAL;
	/* Detached first: after this no probe runs, so the per-CPU runs can be read safely. */
	duet_bpf__detach(h->skel);
	h->fn = fn;
	h->context = context;
	h->batched = 0;
	int n = ring_buffer__consume(h->ring);
	struct duet_bpf_cpu_state *states = calloc((size_t)h->possible_cpus, sizeof *states);
	unsigned int key = 0;
	if (states && bpf_map__lookup_elem(h->skel->maps.cpu_state, &key, sizeof key, states,
					   sizeof *states * (size_t)h->possible_cpus, 0) == 0) {
		for (int i = 0; i < h->possible_cpus; i++) {
			if (!states[i].run_valid)
				continue;
			on_record(h, &states[i].run, sizeof states[i].run);
			if (n >= 0)
				n += 1;
		}
	}
	free(states);
	flush(h);
	h->fn = NULL;
	h->context = NULL;
	return n;
}

unsigned long long duet_bpf_lost(struct duet_bpf_handle *h)
{
	if (!h)
		return 0;
	struct duet_bpf_cpu_state values[h->possible_cpus];
	unsigned int key = 0;
	if (bpf_map__lookup_elem(h->skel->maps.cpu_state, &key, sizeof key, values, sizeof values, 0))
		return 0;
	unsigned long long total = 0;
	for (int i = 0; i < h->possible_cpus; i++)
		total += values[i].lost;
	return total;
}

int duet_bpf_watch(struct duet_bpf_handle *h, unsigned int device, int watch)
{
	if (!h || !h->skel || !h->skel->bss)
		return -EINVAL;
	struct duet_bpf__bss *bss = h->skel->bss;
	const unsigned int capacity = sizeof bss->watched_devs / sizeof bss->watched_devs[0];
	unsigned int count = __atomic_load_n(&bss->watched_count, __ATOMIC_ACQUIRE);
	if (count > capacity)
		count = capacity;
	unsigned int at = count;
	for (unsigned int i = 0; i < count; i++)
		if (bss->watched_devs[i] == device)
			at = i;
	if (watch) {
		if (at < count)
			return 0;
		if (count == capacity)
			return -ENOSPC;
		bss->watched_devs[count] = device;
		__atomic_store_n(&bss->watched_count, count + 1, __ATOMIC_RELEASE);
		return 0;
	}
	if (at == count)
		return 0;
	/* Move the last entry into the hole, then shrink. A probe running meanwhile may
	 * miss the moved device once, or report the removed one once more. */
	bss->watched_devs[at] = bss->watched_devs[count - 1];
	__atomic_store_n(&bss->watched_count, count - 1, __ATOMIC_RELEASE);
	return 0;
}

void duet_bpf_destroy(struct duet_bpf_handle *h)
{
	if (!h)
		return;
	ring_buffer__free(h->ring);
	duet_bpf__destroy(h->skel);
	free(h);
}

// SPDX-License-Identifier: GPL-2.0
/*
 * duet-test: in-VM tests of the Duet kernel framework (/dev/duet).
 *
 * Usage: duet-test MNT SUBVOL_ROOTID SNAP_ROOTID
 *
 * Expects a btrfs file system mounted at MNT with a subvolume MNT/sv holding
 * f1 and f2 (1 MiB each) and big (8 MiB), and a snapshot MNT/snap of it taken
 * after the files were written.  The root ids come from
 * `btrfs inspect-internal rootid`.  Prints TAP-like lines and exits 0 only if
 * every check passed.  Built statically by scripts/kernel/initramfs.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <linux/capability.h>
#include <linux/fs.h>
#include <linux/duet.h>

#define PAGE 4096
#define FILE_PAGES 256		/* 1 MiB test files */
#define MAX_ITEMS (1 << 16)

static const char *mnt;
static uint64_t sv_root, snap_root;
static int failures, checks;
static struct duet_item items[MAX_ITEMS];

static void check(int ok, const char *fmt, ...)
{
	va_list ap;

	checks++;
	if (!ok)
		failures++;
	printf("%s %d - ", ok ? "ok" : "not ok", checks);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
}

static void die(const char *what)
{
	printf("not ok - %s: %s\n", what, strerror(errno));
	printf("duet-test: FAIL\n");
	exit(1);
}

static void path(char *buf, const char *rel)
{
	snprintf(buf, 4096, "%s/%s", mnt, rel);
}

static void drop_caches(void)
{
	int fd;

	sync();
	fd = open("/proc/sys/vm/drop_caches", O_WRONLY);
	if (fd < 0 || write(fd, "3", 1) != 1)
		die("drop_caches");
	close(fd);
}

static void read_file(const char *rel)
{
	char p[4096], buf[1 << 16];
	ssize_t n;
	int fd;

	path(p, rel);
	fd = open(p, O_RDONLY);
	if (fd < 0)
		die(p);
	while ((n = read(fd, buf, sizeof(buf))) > 0)
		;
	if (n < 0)
		die("read");
	close(fd);
}

static void file_id(const char *rel, uint64_t *ino, uint32_t *gen)
{
	char p[4096];
	struct stat st;
	int fd, g = 0;

	path(p, rel);
	fd = open(p, O_RDONLY);
	if (fd < 0 || fstat(fd, &st))
		die(p);
	if (gen) {
		if (ioctl(fd, FS_IOC_GETVERSION, &g))
			die("FS_IOC_GETVERSION");
		*gen = g;
	}
	*ino = st.st_ino;
	close(fd);
}

static int duet_dev = -1;

static int reg_task(const char *scope_rel, uint32_t evtmask, uint32_t model,
		    uint32_t keyspace, uint32_t flags, uint32_t max_pending,
		    const char *name, int *err)
{
	struct duet_register r;
	char p[4096];
	int sfd, fd;

	path(p, scope_rel);
	sfd = open(p, O_RDONLY | O_DIRECTORY);
	if (sfd < 0)
		die(p);
	memset(&r, 0, sizeof(r));
	r.scope_fd = sfd;
	r.evtmask = evtmask;
	r.model = model;
	r.keyspace = keyspace;
	r.flags = flags | DUET_REG_NONBLOCK;
	r.max_pending = max_pending;
	snprintf(r.name, sizeof(r.name), "%s", name);
	fd = ioctl(duet_dev, DUET_IOC_REGISTER, &r);
	if (err)
		*err = fd < 0 ? errno : 0;
	close(sfd);
	return fd;
}

static int reg(const char *scope_rel, uint32_t evtmask, uint32_t model,
	       uint32_t keyspace, uint32_t flags, uint32_t max_pending,
	       const char *name)
{
	int fd = reg_task(scope_rel, evtmask, model, keyspace, flags,
			  max_pending, name, NULL);

	if (fd < 0)
		die("DUET_IOC_REGISTER");
	return fd;
}

/* Read every pending item of a non-blocking task fd. */
static int fetch_all(int fd)
{
	int n = 0;

	for (;;) {
		ssize_t r = read(fd, items + n,
				 (MAX_ITEMS - n) * sizeof(struct duet_item));
		if (r < 0) {
			if (errno == EAGAIN)
				break;
			die("read task fd");
		}
		if (r % sizeof(struct duet_item))
			die("partial item");
		n += r / sizeof(struct duet_item);
		if (n == MAX_ITEMS)
			break;
	}
	return n;
}

static int count(int n, uint64_t ino, int64_t root, uint32_t state_all)
{
	int i, c = 0;

	for (i = 0; i < n; i++)
		if (items[i].ino == ino &&
		    (root < 0 || items[i].root == (uint64_t)root) &&
		    (items[i].state & state_all) == state_all)
			c++;
	return c;
}

static void status(int fd, struct duet_status *st)
{
	if (ioctl(fd, DUET_IOC_STATUS, st))
		die("DUET_IOC_STATUS");
}

static int done_op(int fd, unsigned long op, uint64_t start, uint64_t len)
{
	struct duet_range r = { .start = start, .len = len };

	if (ioctl(fd, op, &r))
		return -errno;
	return r.result;
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static uint64_t ino1, ino2, inobig;
static uint32_t gen1;

static void test_roots(void)
{
	uint64_t sino;
	int fd, n, c_sv, c_snap, c_other, i, gen_ok = 1;

	file_id("snap/f1", &sino, NULL);
	check(sino == ino1, "snapshot shares inode number %llu", (unsigned long long)ino1);

	drop_caches();
	fd = reg("", DUET_PAGE_ADDED, DUET_MODEL_EVENT, DUET_KEY_NONE,
		 DUET_REG_NO_SCAN, 0, "roots");
	read_file("sv/f1");
	read_file("snap/f1");
	n = fetch_all(fd);
	c_sv = count(n, ino1, sv_root, DUET_PAGE_ADDED);
	c_snap = count(n, ino1, snap_root, DUET_PAGE_ADDED);
	c_other = count(n, ino1, -1, 0) - c_sv - c_snap;
	for (i = 0; i < n; i++)
		if (items[i].ino == ino1 && items[i].gen != gen1)
			gen_ok = 0;
	printf("# roots: %d items, sv(root %llu)=%d snap(root %llu)=%d other=%d\n",
	       n, (unsigned long long)sv_root, c_sv,
	       (unsigned long long)snap_root, c_snap, c_other);
	check(c_sv == FILE_PAGES, "subvolume read: %d items with root %llu",
	      c_sv, (unsigned long long)sv_root);
	check(c_snap == FILE_PAGES, "snapshot read: %d items with root %llu",
	      c_snap, (unsigned long long)snap_root);
	check(c_other == 0, "no item of inode %llu with another root",
	      (unsigned long long)ino1);
	check(gen_ok, "items carry the inode generation %u", gen1);
	close(fd);

	/* Subvolume-scoped task: only the snapshot's pages. */
	drop_caches();
	fd = reg("snap", DUET_PAGE_ADDED, DUET_MODEL_EVENT, DUET_KEY_NONE,
		 DUET_REG_NO_SCAN | DUET_REG_SUBVOL, 0, "snaponly");
	read_file("sv/f1");
	read_file("snap/f1");
	n = fetch_all(fd);
	c_snap = count(n, ino1, snap_root, DUET_PAGE_ADDED);
	check(c_snap == FILE_PAGES && n == FILE_PAGES,
	      "DUET_REG_SUBVOL on snapshot: %d items, %d with root %llu",
	      n, c_snap, (unsigned long long)snap_root);
	{
		struct duet_status st;

		status(fd, &st);
		check(st.scope_root == snap_root, "status scope_root %llu",
		      (unsigned long long)st.scope_root);
	}
	close(fd);
}

static void test_doneset(void)
{
	struct duet_status st;
	int fd, n;

	fd = reg("", DUET_PAGE_ADDED, DUET_MODEL_EVENT, DUET_KEY_INODE,
		 DUET_REG_NO_SCAN, 0, "done");
	/* Range semantics. */
	check(done_op(fd, DUET_IOC_SET_DONE, 1000, 100) == 0, "set [1000,1100)");
	check(done_op(fd, DUET_IOC_SET_DONE, 1100, 100) == 0, "set [1100,1200)");
	check(done_op(fd, DUET_IOC_CHECK_DONE, 1050, 100) == 1, "adjacent ranges merge");
	check(done_op(fd, DUET_IOC_UNSET_DONE, 1120, 10) == 0, "unset [1120,1130)");
	check(done_op(fd, DUET_IOC_CHECK_DONE, 1100, 30) == 0, "hole is not done");
	check(done_op(fd, DUET_IOC_CHECK_DONE, 1130, 70) == 1, "after hole is done");
	check(done_op(fd, DUET_IOC_CHECK_DONE, 999, 1) == 0, "before range is not done");
	check(done_op(fd, DUET_IOC_SET_DONE, UINT64_MAX, 1) == 0, "set the last u64 key");
	check(done_op(fd, DUET_IOC_CHECK_DONE, UINT64_MAX - 1, 2) == 0, "partial cover at the top");
	check(done_op(fd, DUET_IOC_SET_DONE, 5, 0) == -EINVAL, "len 0 rejected");
	check(done_op(fd, DUET_IOC_SET_DONE, 2, UINT64_MAX) == -EINVAL, "overflowing range rejected");
	status(fd, &st);
	check(st.done_ranges == 3, "3 disjoint ranges (got %llu)",
	      (unsigned long long)st.done_ranges);
	check(done_op(fd, DUET_IOC_UNSET_DONE, 0, UINT64_MAX) == 0, "unset almost all");
	check(done_op(fd, DUET_IOC_UNSET_DONE, UINT64_MAX, 1) == 0, "unset the last key");
	status(fd, &st);
	check(st.done_ranges == 0, "done-set empty");

	/* Filtering events. */
	check(done_op(fd, DUET_IOC_SET_DONE, ino1, 1) == 0, "mark inode %llu done",
	      (unsigned long long)ino1);
	check(done_op(fd, DUET_IOC_CHECK_DONE, ino1, 1) == 1 &&
	      done_op(fd, DUET_IOC_CHECK_DONE, ino2, 1) == 0, "check_done f1=1 f2=0");
	drop_caches();
	read_file("sv/f1");
	read_file("sv/f2");
	n = fetch_all(fd);
	status(fd, &st);
	check(count(n, ino1, -1, 0) == 0 && count(n, ino2, sv_root, DUET_PAGE_ADDED) == FILE_PAGES,
	      "done inode filtered: f1 %d items, f2 %d items, filtered %llu",
	      count(n, ino1, -1, 0), count(n, ino2, -1, 0),
	      (unsigned long long)st.filtered);

	/* An item queued before its inode was marked done is not returned. */
	drop_caches();
	read_file("sv/f2");
	check(done_op(fd, DUET_IOC_SET_DONE, ino2, 1) == 0, "mark f2 done after its events");
	n = fetch_all(fd);
	check(count(n, ino2, -1, 0) == 0, "pending items of a done inode dropped at read (%d)",
	      count(n, ino2, -1, 0));
	check(done_op(fd, DUET_IOC_UNSET_DONE, ino1, 1) == 0 &&
	      done_op(fd, DUET_IOC_CHECK_DONE, ino1, 1) == 0, "unset f1");
	drop_caches();
	read_file("sv/f1");
	n = fetch_all(fd);
	check(count(n, ino1, sv_root, DUET_PAGE_ADDED) == FILE_PAGES, "f1 reported again after unset");
	close(fd);
}

static void test_models(void)
{
	struct duet_status st;
	int ev, stf, n;
	uint64_t wino;
	char p[4096], buf[16 * PAGE];
	int wfd;

	drop_caches();
	ev = reg("", DUET_PAGE_ADDED | DUET_PAGE_REMOVED, DUET_MODEL_EVENT,
		 DUET_KEY_NONE, DUET_REG_NO_SCAN, 0, "event");
	stf = reg("", DUET_PAGE_ADDED, DUET_MODEL_STATE, DUET_KEY_NONE,
		  DUET_REG_NO_SCAN, 0, "state");
	read_file("sv/f1");
	drop_caches();
	n = fetch_all(stf);
	status(stf, &st);
	check(count(n, ino1, -1, 0) == 0, "state model: read + evict cancels (%d items, %llu cancelled)",
	      count(n, ino1, -1, 0), (unsigned long long)st.cancelled);
	check(st.cancelled >= FILE_PAGES, "cancelled counter %llu", (unsigned long long)st.cancelled);
	n = fetch_all(ev);
	check(count(n, ino1, sv_root, DUET_PAGE_ADDED | DUET_PAGE_REMOVED) == FILE_PAGES &&
	      count(n, ino1, -1, 0) == FILE_PAGES,
	      "event model: one item per page with ADDED|REMOVED (%d)",
	      count(n, ino1, sv_root, DUET_PAGE_ADDED | DUET_PAGE_REMOVED));
	read_file("sv/f1");
	n = fetch_all(stf);
	check(count(n, ino1, sv_root, DUET_PAGE_ADDED) == FILE_PAGES, "state model: re-read gives ADDED");
	close(ev);
	close(stf);

	/* Dirty and flushed. */
	ev = reg("", DUET_PAGE_DIRTY | DUET_PAGE_FLUSHED, DUET_MODEL_EVENT,
		 DUET_KEY_NONE, DUET_REG_NO_SCAN, 0, "dirty-ev");
	stf = reg("", DUET_PAGE_DIRTY, DUET_MODEL_STATE, DUET_KEY_NONE,
		  DUET_REG_NO_SCAN, 0, "dirty-st");
	path(p, "sv/w");
	wfd = open(p, O_RDWR | O_CREAT | O_TRUNC, 0644);
	if (wfd < 0)
		die(p);
	memset(buf, 0x5a, sizeof(buf));
	if (pwrite(wfd, buf, sizeof(buf), 0) != sizeof(buf) || fsync(wfd))
		die("write sv/w");
	file_id("sv/w", &wino, NULL);
	n = fetch_all(ev);
	check(count(n, wino, sv_root, DUET_PAGE_DIRTY | DUET_PAGE_FLUSHED) == 16,
	      "event model: write+fsync gives DIRTY|FLUSHED on 16 pages (%d)",
	      count(n, wino, sv_root, DUET_PAGE_DIRTY | DUET_PAGE_FLUSHED));
	n = fetch_all(stf);
	check(count(n, wino, -1, 0) == 0, "state model: write+fsync cancels (%d)",
	      count(n, wino, -1, 0));
	if (pwrite(wfd, buf, sizeof(buf), 0) != sizeof(buf))
		die("rewrite sv/w");
	n = fetch_all(stf);
	check(count(n, wino, sv_root, DUET_PAGE_DIRTY) == 16, "state model: unflushed write is DIRTY (%d)",
	      count(n, wino, sv_root, DUET_PAGE_DIRTY));
	close(wfd);
	close(ev);
	close(stf);
}

static void test_scan_drops_poll(void)
{
	struct duet_status st;
	struct pollfd pfd;
	int fd, n, err;

	drop_caches();
	read_file("sv/f1");
	fd = reg("", DUET_PAGE_ADDED | DUET_PAGE_DIRTY, DUET_MODEL_EVENT,
		 DUET_KEY_NONE, 0, 0, "scan");
	n = fetch_all(fd);
	status(fd, &st);
	check(count(n, ino1, sv_root, DUET_PAGE_ADDED) == FILE_PAGES,
	      "scan at registration reports %d cached pages of f1 (scanned %llu)",
	      count(n, ino1, sv_root, DUET_PAGE_ADDED), (unsigned long long)st.scanned);
	close(fd);
	fd = reg("", DUET_PAGE_ADDED, DUET_MODEL_EVENT, DUET_KEY_NONE,
		 DUET_REG_NO_SCAN, 0, "noscan");
	n = fetch_all(fd);
	check(count(n, ino1, -1, 0) == 0, "DUET_REG_NO_SCAN reports nothing (%d)", n);

	/* poll */
	pfd.fd = fd;
	pfd.events = POLLIN;
	check(poll(&pfd, 1, 0) == 0, "poll: nothing pending");
	drop_caches();
	read_file("sv/f2");
	check(poll(&pfd, 1, 5000) == 1 && (pfd.revents & POLLIN), "poll: readable after events");
	close(fd);

	/* Bounded pending items, counted drops. */
	drop_caches();
	fd = reg("", DUET_PAGE_ADDED, DUET_MODEL_EVENT, DUET_KEY_NONE,
		 DUET_REG_NO_SCAN, 16, "small");
	read_file("sv/f1");
	status(fd, &st);
	printf("# status: pending %llu events %llu dropped %llu (ring %llu limit %llu nomem %llu)\n",
	       (unsigned long long)st.pending, (unsigned long long)st.events,
	       (unsigned long long)st.dropped, (unsigned long long)st.dropped_ring,
	       (unsigned long long)st.dropped_limit, (unsigned long long)st.dropped_nomem);
	check(st.pending == 16 && st.dropped_limit == FILE_PAGES - 16 &&
	      st.dropped >= st.dropped_limit, "max_pending 16: %llu dropped, counted",
	      (unsigned long long)st.dropped);
	n = fetch_all(fd);
	check(n == 16, "16 items delivered");
	close(fd);

	/* Argument checks. */
	fd = reg_task("", 0, DUET_MODEL_EVENT, DUET_KEY_NONE, 0, 0, "bad", &err);
	check(fd < 0 && err == EINVAL, "empty event mask rejected");
	fd = reg_task("", DUET_PAGE_ADDED, 7, DUET_KEY_NONE, 0, 0, "bad", &err);
	check(fd < 0 && err == EINVAL, "unknown model rejected");
	{
		struct duet_register r;
		char p[4096];

		memset(&r, 0, sizeof(r));
		path(p, "sv/f1");
		r.scope_fd = open(p, O_RDONLY);
		r.evtmask = DUET_PAGE_ADDED;
		fd = ioctl(duet_dev, DUET_IOC_REGISTER, &r);
		check(fd < 0 && errno == ENOTDIR, "scope on a regular file rejected");
		close(r.scope_fd);
	}

	/* Register/deregister churn: no leak, no crash. */
	for (n = 0; n < 200; n++) {
		fd = reg("", DUET_PAGE_EVENTS, n & 1, DUET_KEY_INODE, n & 2 ? DUET_REG_NO_SCAN : 0,
			 0, "churn");
		done_op(fd, DUET_IOC_SET_DONE, n, 3);
		read_file("sv/f2");
		close(fd);
	}
	check(1, "200 register/close cycles");
}

/* CAP_SYS_ADMIN is required to open /dev/duet and to register. */
static void test_perm(void)
{
	struct __user_cap_header_struct hdr = {
		.version = _LINUX_CAPABILITY_VERSION_3,
	};
	struct __user_cap_data_struct data[2];
	int status;
	pid_t pid;

	pid = fork();
	if (pid < 0)
		die("fork");
	if (pid == 0) {
		int fd, err;

		if (syscall(SYS_capget, &hdr, data))
			_exit(10);
		data[0].effective &= ~(1u << CAP_SYS_ADMIN);
		if (syscall(SYS_capset, &hdr, data))
			_exit(11);
		fd = open("/dev/duet", O_RDWR);
		if (fd >= 0 || errno != EPERM)
			_exit(12);
		/* An fd opened with the capability does not carry it. */
		fd = reg_task("", DUET_PAGE_ADDED, DUET_MODEL_EVENT, DUET_KEY_NONE,
			      DUET_REG_NO_SCAN, 0, "noperm", &err);
		if (fd >= 0 || err != EPERM)
			_exit(13);
		_exit(0);
	}
	if (waitpid(pid, &status, 0) != pid)
		die("waitpid");
	check(WIFEXITED(status) && WEXITSTATUS(status) == 0,
	      "without CAP_SYS_ADMIN: open and register fail with EPERM (child status %d)",
	      WIFEXITED(status) ? WEXITSTATUS(status) : -1);
}

/* A blocking read() sleeps until events arrive. */
static void test_blocking_read(void)
{
	struct duet_item it[4];
	double t0, dt;
	ssize_t r;
	pid_t pid;
	int fd, status;

	drop_caches();
	fd = reg("", DUET_PAGE_ADDED, DUET_MODEL_EVENT, DUET_KEY_NONE,
		 DUET_REG_NO_SCAN, 0, "blocking");
	if (fcntl(fd, F_SETFL, 0))
		die("fcntl");
	pid = fork();
	if (pid < 0)
		die("fork");
	if (pid == 0) {
		usleep(500000);
		read_file("sv/f2");
		_exit(0);
	}
	t0 = now();
	r = read(fd, it, sizeof(it));
	dt = now() - t0;
	waitpid(pid, &status, 0);
	check(r == sizeof(it) && it[0].ino == ino2 && dt > 0.1,
	      "blocking read woke after %.2f s with %zd bytes", dt, r);
	close(fd);
}

/* A page-cache-heavy loop: read 8 MiB, then drop it with fadvise. */
struct sample {
	double wall;		/* elapsed time of the loop */
	double self;		/* CPU time of this process (user + system) */
	double busy;		/* CPU time of the whole guest, all CPUs */
};

static double cpu_busy(void)
{
	unsigned long long v[10] = { 0 };
	FILE *f = fopen("/proc/stat", "r");
	long hz = sysconf(_SC_CLK_TCK);

	if (!f || fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu",
			 &v[0], &v[1], &v[2], &v[3], &v[4], &v[5], &v[6], &v[7]) != 8)
		die("/proc/stat");
	fclose(f);
	/* user nice system [idle] [iowait] irq softirq steal */
	return (double)(v[0] + v[1] + v[2] + v[5] + v[6] + v[7]) / hz;
}

static double self_cpu(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static struct sample loop_once(int iters)
{
	char p[4096];
	static char buf[1 << 20];
	struct sample s0, s;
	int fd, i;
	off_t off;

	path(p, "sv/big");
	fd = open(p, O_RDONLY);
	if (fd < 0)
		die(p);
	s0.wall = now();
	s0.self = self_cpu();
	s0.busy = cpu_busy();
	for (i = 0; i < iters; i++) {
		for (off = 0; off < 8 << 20; off += sizeof(buf))
			if (pread(fd, buf, sizeof(buf), off) != sizeof(buf))
				die("pread big");
		posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
	}
	s.wall = now() - s0.wall;
	s.self = self_cpu() - s0.self;
	s.busy = cpu_busy() - s0.busy;
	close(fd);
	return s;
}

static void keep_min(struct sample *best, struct sample s)
{
	if (s.wall < best->wall)
		best->wall = s.wall;
	if (s.self < best->self)
		best->self = s.self;
	if (s.busy < best->busy)
		best->busy = s.busy;
}

static void report(const char *what, struct sample s, struct sample base, double pages)
{
	printf("# overhead: %-11s wall %.3f s (%+6.1f%%, %6.0f ns/page)  own CPU %.3f s (%+6.1f%%)  guest CPU %.2f s (%+6.1f%%)\n",
	       what, s.wall, (s.wall / base.wall - 1) * 100, s.wall * 1e9 / pages,
	       s.self, (s.self / base.self - 1) * 100,
	       s.busy, (s.busy / base.busy - 1) * 100);
}

static void test_overhead(void)
{
	const int iters = 20, rounds = 3;
	struct sample base = { 1e9, 1e9, 1e9 }, ev = base, stm = base;
	double pages = (double)iters * (8 << 20) / PAGE;
	struct duet_status st;
	int fd, r;

	loop_once(2);		/* warm up */
	for (r = 0; r < rounds; r++) {
		keep_min(&base, loop_once(iters));

		fd = reg("", DUET_PAGE_EVENTS, DUET_MODEL_EVENT, DUET_KEY_NONE,
			 DUET_REG_NO_SCAN, 0, "bench-ev");
		keep_min(&ev, loop_once(iters));
		status(fd, &st);
		close(fd);

		fd = reg("", DUET_PAGE_EVENTS, DUET_MODEL_STATE, DUET_KEY_NONE,
			 DUET_REG_NO_SCAN, 0, "bench-st");
		keep_min(&stm, loop_once(iters));
		close(fd);
	}
	printf("# overhead: %d x (8 MiB pread + FADV_DONTNEED) = %.0f pages read and dropped, best of %d\n",
	       iters, pages, rounds);
	report("no task", base, base, pages);
	report("event task", ev, base, pages);
	report("state task", stm, base, pages);
	printf("# overhead: last event-task status: events %llu pending %llu dropped %llu (ring %llu)\n",
	       (unsigned long long)st.events, (unsigned long long)st.pending,
	       (unsigned long long)st.dropped, (unsigned long long)st.dropped_ring);
	check(st.events >= pages, "event task saw >= %.0f page events (%llu)", pages,
	      (unsigned long long)st.events);
	printf("DUET-OVERHEAD wall_s base=%.3f event=%.3f state=%.3f own_cpu_s base=%.3f event=%.3f state=%.3f guest_cpu_s base=%.2f event=%.2f state=%.2f\n",
	       base.wall, ev.wall, stm.wall, base.self, ev.self, stm.self,
	       base.busy, ev.busy, stm.busy);
}

/*
 * --hold MNT N: registers N tasks on MNT and keeps them until killed, so that the guest can
 * check what `duet watch --source auto` does when the kernel has no task left to give.
 */
static int hold_tasks(int n)
{
	int i, err = 0;

	duet_dev = open("/dev/duet", O_RDWR | O_CLOEXEC);
	if (duet_dev < 0)
		die("/dev/duet");
	for (i = 0; i < n; i++) {
		if (reg_task("", DUET_PAGE_ADDED, DUET_MODEL_EVENT, DUET_KEY_NONE, 0, 0, "hold", &err) < 0) {
			fprintf(stderr, "duet-test: task %d of %d: %s\n", i + 1, n, strerror(err));
			return 1;
		}
	}
	printf("duet-test: holding %d tasks\n", n);
	fflush(stdout);
	for (;;)
		pause();
}

int main(int argc, char **argv)
{
	if (argc == 4 && strcmp(argv[1], "--hold") == 0) {
		mnt = argv[2];
		return hold_tasks(atoi(argv[3]));
	}
	if (argc != 4) {
		fprintf(stderr, "usage: %s MNT SUBVOL_ROOTID SNAP_ROOTID | --hold MNT N\n", argv[0]);
		return 2;
	}
	mnt = argv[1];
	sv_root = strtoull(argv[2], NULL, 0);
	snap_root = strtoull(argv[3], NULL, 0);
	setvbuf(stdout, NULL, _IOLBF, 0);

	duet_dev = open("/dev/duet", O_RDWR | O_CLOEXEC);
	check(duet_dev >= 0, "open /dev/duet");
	if (duet_dev < 0)
		die("/dev/duet");
	file_id("sv/f1", &ino1, &gen1);
	file_id("sv/f2", &ino2, NULL);
	file_id("sv/big", &inobig, NULL);

	test_roots();
	test_doneset();
	test_models();
	test_scan_drops_poll();
	test_perm();
	test_blocking_read();
	test_overhead();

	printf("duet-test: %d checks, %d failed\n", checks, failures);
	printf("duet-test: %s\n", failures ? "FAIL" : "PASS");
	return failures ? 1 : 0;
}

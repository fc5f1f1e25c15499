"""Duet benchmarks: what stock btrfs maintenance reads and how long it takes, against Duet's,
on one loop-backed btrfs, side by side in one run.

Parts (each can be chosen with --parts):
  scrub   `btrfs scrub start -B` vs `duet scrub start` after the foreground read a fraction f of
          the files with `duet watch` running (f = 0, 0.25, 0.5, 0.75, 1); caches dropped first.
  send    `btrfs send` vs `duet send` of a snapshot after a fraction f of the live subvolume was
          read (cached under the live inodes); caches dropped first.
  pair    send then scrub, stock pair vs Duet pair, after a 50% foreground read.
  watch   foreground slowdown with `duet watch` on vs off, alternated for max(--rounds, 3)
          rounds of --watch-seconds each: a page-cache-heavy loop (pread +
          POSIX_FADV_DONTNEED: an add and a remove event per page), a fio random-read job bound
          by a blkio read throttle (fio_randread_throttled: a disk-like device) and the same job
          on the bare loop device (fio_randread: bound by the host's virtual disk, noisy). Per
          metric: mean and median of off and on, the slowdown from each, the off samples'
          spread; for the loop, the records the watcher handled per second and lost.
  overlap the SOSP'15 method on a device throttled to a disk-like read bandwidth B (cgroup v1
          blkio). A webserver-like foreground reads whole 1 MiB files of a hot set (the overlap
          fraction of the files), picked at random with replacement, uniform or skewed (10% of
          the hot files take 40% of the reads), optionally appending to a log, at a rate set to
          a share of the bandwidth (the utilisation u), for a warm-up and then a window; each
          maintenance task starts after the warm-up, as an administrator runs it (`ionice -c3
          btrfs scrub start -c 3`, `ionice -c3 duet scrub start`), and runs to completion.
          --contention idle (the default) emulates an idle-class I/O scheduler: blk-throttle
          sits above the scheduler, so idle I/O priority cannot take effect under it on this
          kernel (the ioprio part shows it); instead the foreground runs in a group limited to
          B and the maintenance in a second group limited to B x (1 - u) while the foreground
          runs, raised to B when the foreground exits: exactly the bandwidth the foreground
          leaves, as an ideal idle class would give it. Stock and Duet tools get the same groups
          and limits, and duet scrub runs without --idle (no self-throttling on top); the
          configurations `duet scrub --idle` and `duet send --idle` (and the pair of both) also
          wait while the foreground reads: they defer their disk reads past the window, the scrub
          then reads only what the foreground did not verify, the send sends meanwhile what the
          foreground brings into the cache.
          --contention shared: both in one group limited to B (duet scrub with --idle), where
          the deepest queue takes the most bandwidth whatever the I/O priorities.
          Per configuration: the maintenance's device bytes, its completion time, the share of
          its work done when the foreground window ends, and the foreground's throughput and
          latency (mean, p99). The duet scrub's work done includes the data ahead of its cursor
          that reads since the start verified (its checkpoint's verifiedAheadBytes: it skips that
          when it gets there, as the paper's Duet scrub marked blocks done on page-cache
          events); the tables also give its share behind the cursor alone. Overlaps are swept
          at the first utilisation, utilisations at 50% overlap.
  scale   `btrfs send` vs `duet send` of a snapshot of --scale-files small files (default
          1,000,000) and one of --scale-gib GiB of sparse-ish files, cold, both under
          `ulimit -n 1024`: time ratio, peak RSS of each, device bytes; duet's stream received
          with `btrfs receive` and compared with the snapshot (duetbench/parts/scale.py). Not
          in the default parts nor in --quick: it takes about 10 minutes.
  ioprio  whether idle I/O priority takes effect under the throttle: the kernel scrub beside the
          foreground in one shared group (whatever --contention says), best-effort vs idle
          class, on the loop device's none and bfq schedulers.

Device bytes come from the loop device's counters (/sys/block/loopN/stat); the loop device
runs with direct I/O so the backing file's page cache cannot serve reads. Every ratio is
against the stock tool measured in the same run. Timings go here, never into tests.
"""
import argparse
import os
import random
import signal
import subprocess
import sys
import time

from .fixtures import LoopBtrfs, fill, run
from .parts import FRACTIONS
from .parts.contention import run_throttled_parts
from .parts.pair import bench_pair
from .parts.scale import bench_scale
from .parts.scrub import bench_scrub
from .parts.send import bench_send
from .parts.watch import bench_watch
from .plot import plot
from .report import machine, write


class _NoMainFileSystem(Exception):
    """Only the scale part was asked for: it makes its own file systems."""


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duet", required=True, help="the duet binary")
    parser.add_argument("--quick", action="store_true", help="a small file system, one round: proves the harness works")
    parser.add_argument("--size", type=float, default=4.0, help="file system size in GiB (default 4)")
    parser.add_argument("--out", default="bench-out", help="output directory")
    parser.add_argument("--parts", default="scrub,send,pair,overlap,watch", help="comma-separated parts to run")
    parser.add_argument("--rounds", type=int, default=1, help="repetitions per point")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--scale-files", type=int, default=1_000_000, help="small files in the scale part's snapshot")
    parser.add_argument("--scale-gib", type=float, default=8,
                        help="GiB (logical, half of it data) of sparse-ish files in the scale part's second snapshot")
    parser.add_argument("--bandwidth", type=float, default=50, help="device read bandwidth for the overlap part, MiB/s")
    parser.add_argument("--overlaps", default="0.25,0.5,0.75,1",
                        help="hot-set fractions, each at the first utilisation (overlap part)")
    parser.add_argument("--utilisation", default="0.5,0.7,0.9",
                        help="foreground shares of the bandwidth; the first is used for the overlap sweep, the others at 50%% overlap")
    parser.add_argument("--foreground", default="uniform,skewed",
                        help="foreground access distributions: uniform, skewed (10%% of the hot files take 40%% of the reads)")
    parser.add_argument("--all-foregrounds", action="store_true",
                        help="every distribution at every point (default: the others only at 50%% overlap)")
    parser.add_argument("--appends", action="store_true", help="the foreground also appends 128 KiB to a log every 10 reads")
    parser.add_argument("--warmup", type=float, default=5, help="seconds the foreground runs alone before maintenance starts")
    parser.add_argument("--window", type=float, default=15, help="seconds the foreground runs beside the maintenance")
    parser.add_argument("--cache-seconds", type=float, default=4,
                        help="each foreground read leaves the page cache this long after it (emulated RAM; > 1.5 s)")
    parser.add_argument("--scheduler", default="bfq", help="the loop device's I/O scheduler during the overlap part")
    parser.add_argument("--contention", choices=("idle", "shared"), default="idle",
                        help="overlap part: idle (default) emulates an idle-class I/O scheduler: the maintenance in its own "
                             "group limited to what the foreground leaves, B x (1 - utilisation), raised to B when the "
                             "foreground exits; shared: foreground and maintenance in one group limited to B")
    parser.add_argument("--duet-scrub-args", default=None,
                        help="options for duet scrub start in the overlap part (default: none with --contention idle, "
                             "where the group is the idle class; --idle with shared, what an administrator uses)")
    parser.add_argument("--configs", default="", help="only these overlap configurations (comma-separated names)")
    parser.add_argument("--watch-seconds", type=float, default=10, help="seconds per watch-part sample (default 10; --quick: 2)")
    parser.add_argument("--watch-fio-bandwidth", type=float, default=20,
                        help="read throttle for the watch part's fio_randread_throttled job, MiB/s (default 20, 5120 IOPS of "
                             "4 KiB: 50 MiB/s would be 12800, above the ~11000 this VM's virtual disk gives, so it would not bind)")
    args = parser.parse_args()
    if args.duet_scrub_args is None:
        args.duet_scrub_args = "" if args.contention == "idle" else "--idle"
    # A SIGTERM ends the run like Ctrl-C: the finally blocks stop the children and remove the
    # throttle groups, the mount and the loop device. Further SIGTERMs are ignored (pkill and
    # `timeout` may both send one): a second would abort that cleanup half-way.
    def terminate(*_):
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        sys.exit(143)
    signal.signal(signal.SIGTERM, terminate)
    random.seed(args.seed)
    if args.quick:
        args.size = min(args.size, 0.75)
        args.foreground = args.foreground.split(",")[0]
        args.warmup, args.window = min(args.warmup, 2), min(args.window, 5)
    parts = set(args.parts.split(","))
    fractions = [0.0, 0.5, 1.0] if args.quick else FRACTIONS  # --quick stays under 3 minutes
    os.makedirs(args.out, exist_ok=True)
    file_size = 1 << 20
    files = int(args.size * (1 << 30) * 0.45) // file_size
    help_text = subprocess.run([args.duet, "--help"], capture_output=True, text=True).stdout
    has_duet_send = any(line.strip().startswith("send ") for line in help_text.splitlines())
    report = {"version": 1, "machine": machine(), "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
              "size_gib": args.size, "files": files, "file_size": file_size, "duet_send": has_duet_send}
    if "scale" in parts:
        report["scale"] = bench_scale(args.duet, args.scale_files, args.scale_gib, os.environ.get("TMPDIR", "/var/tmp"))
    fs = LoopBtrfs(args.size, os.environ.get("TMPDIR", "/var/tmp")) if parts - {"scale"} else None
    try:
        if fs is None:
            raise _NoMainFileSystem
        state = os.path.join(fs.dir, "state")
        paths = fill(fs, "live", files, file_size)
        snapshot = fs.path("live.snap")
        run(["btrfs", "-q", "subvolume", "snapshot", "-r", fs.path("live"), snapshot])
        run(["btrfs", "-q", "filesystem", "sync", fs.mnt])
        if "scrub" in parts:
            report["scrub"] = bench_scrub(fs, args.duet, paths, state, args.rounds, fractions)
        if "send" in parts:
            report["send"] = bench_send(fs, args.duet, paths, fs.path("live"), snapshot, state, has_duet_send, args.rounds, fractions)
        if "pair" in parts:
            report["pair"] = bench_pair(fs, args.duet, paths, snapshot, state, has_duet_send)
        if "overlap" in parts or "ioprio" in parts:
            run_throttled_parts(fs, args, parts, paths, snapshot, state, has_duet_send, report)
        if "watch" in parts:
            fio_bandwidth = int(args.watch_fio_bandwidth * (1 << 20))
            report["watch"] = bench_watch(fs, args.duet, paths, state, min(args.watch_seconds, 2) if args.quick else args.watch_seconds,
                                          1 if args.quick else max(args.rounds, 3), fio_bandwidth)
    except _NoMainFileSystem:
        pass
    finally:
        if fs:
            fs.close()
    markdown = write(report, args.out)
    report["plots"] = plot(report, args.out)
    print(markdown)
    for png in report["plots"]:
        print(f"plot: {png}")

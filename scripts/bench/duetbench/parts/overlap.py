"""The overlap part (the SOSP'15 method): a throttled webserver-like foreground and each maintenance
configuration beside it; per configuration the maintenance's device bytes, time and work done in
the foreground's window, and the foreground's throughput and latency."""
import json
import os
import random
import shutil
import subprocess
import sys
import time

from ..cgroups import idle_limit
from ..fixtures import drop_caches, run, stop_process
from ..watcher import Watch
from ..workloads import FOREGROUND


def maintenance_progress(kind, fs, state, output):
    """The share of its work a maintenance task has done so far, in its own units."""
    if kind == "kernel-scrub":
        raw = subprocess.run(["btrfs", "scrub", "status", "-R", fs.mnt], capture_output=True, text=True).stdout
        values = dict(line.strip().split(": ", 1) for line in raw.splitlines() if ": " in line)
        return int(values.get("data_bytes_scrubbed", 0)) + int(values.get("tree_bytes_scrubbed", 0))
    if kind == "duet-scrub":
        own, ahead = duet_scrub_checkpoint(state)
        return own + ahead
    return os.path.getsize(output) if os.path.exists(output) else 0


def duet_scrub_checkpoint(state):
    """The duet scrub's checkpoint (at most 2 s old): the bytes it verified or skipped behind its
    cursors, and the data ahead of them that reads since the last complete scrub verified
    (`verifiedAheadBytes`: it skips that when it gets there, as the Duet scrub of the paper marked
    blocks done on page-cache events). Reads schema 2 (README, "JSON reference") and the names of
    version 1, so the benchmark still runs against an older duet binary."""
    try:
        with open(os.path.join(state, "scrub.json")) as f:
            record = json.load(f)
        c = record["counters"]
        if record.get("version", 1) >= 2:
            return (c["dataVerifiedBytes"] + c["treeVerifiedBytes"] + c["skippedVerifiedBytes"],
                    record.get("verifiedAheadBytes") or 0)
        return c["dataVerified"] + c["treeVerified"] + c["skippedVerified"], record.get("verifiedAhead") or 0
    except (OSError, ValueError, KeyError):
        return 0, 0


def send_statistics(messages):
    """`duet send --json`'s totals (ownCacheBytes, otherCacheBytes, diskBytes, movedAhead, …, as
    the binary named them: schema 2 since envelope version 2), or None if it printed something
    else (an error)."""
    try:
        return json.loads(messages)["result"]["total"]
    except (ValueError, KeyError, TypeError):
        return None


def read_bytes_of(stderr):
    for line in reversed(stderr.splitlines()):
        if line.startswith("read_bytes="):
            try:
                return int(line.split("=", 1)[1])
            except ValueError:
                return None
    return None


class OverlapContext:
    """What a configuration runs with. `throttle` is the foreground's blkio group; `maintenance`
    the maintenance's (the idle contention mode), or None: the maintenance shares `throttle`."""

    def __init__(self, fs, duet, state, snapshot, throttle, args, maintenance=None):
        self.fs, self.duet, self.state, self.snapshot, self.throttle, self.args = fs, duet, state, snapshot, throttle, args
        self.maintenance = maintenance or throttle
        self.idle = maintenance is not None and maintenance is not throttle
        self.stream = os.path.join(fs.dir, "stream.out")
        self.scrub_kernel = ["btrfs", "scrub", "start", "-B", "-c", "3", fs.mnt]
        self.scrub_duet = [duet, "scrub", "start", "--state-dir", state] + (args.duet_scrub_args or "").split() + [fs.mnt]
        # With the idle class emulated, duet scrub takes the bandwidth the foreground leaves, as the
        # kernel scrub does; with --idle it also waits while the foreground reads, so it reads what
        # the foreground did not verify once the window has ended (deferring: fewer bytes, less
        # of its own reading inside the window).
        # (Not in --quick, which has to stay under 3 minutes.)
        self.scrub_duet_deferring = (self.scrub_duet[:-1] + ["--idle", fs.mnt]
                                     if self.idle and "--idle" not in self.scrub_duet and not args.quick else None)
        self.send_kernel = ["sh", "-c", f"btrfs send -q '{snapshot}' > '{self.stream}'"]
        # --state-dir: duet send credits the data it read from disk to the ledger the scrub uses;
        # --json: its totals (from own cache, other cache, disk) go into the results.
        self.send_duet = ["sh", "-c", f"'{duet}' send --json --state-dir '{state}' '{snapshot}' > '{self.stream}'"]
        # The same deferring: it sends what the foreground brings into the cache while it waits.
        self.send_duet_deferring = (["sh", "-c", f"'{duet}' send --idle --json --state-dir '{state}' '{snapshot}' > '{self.stream}'"]
                                    if self.scrub_duet_deferring else None)

    def kind(self, step):
        text = " ".join(step)
        return ("duet" if step[0] == self.duet or self.duet in text else "kernel") + ("-scrub" if " scrub " in f" {text} " else "-send")


def configurations(ctx, has_duet_send):
    configs = {"foreground alone": (False, []), "duet watch alone": (True, []),
               "kernel scrub": (False, [ctx.scrub_kernel]), "duet scrub": (True, [ctx.scrub_duet]),
               **({"duet scrub --idle": (True, [ctx.scrub_duet_deferring])} if ctx.scrub_duet_deferring else {}),
               "kernel send": (False, [ctx.send_kernel]),
               "kernel send then scrub": (False, [ctx.send_kernel, ctx.scrub_kernel])}
    if has_duet_send:
        configs["duet send"] = (True, [ctx.send_duet])
        if ctx.send_duet_deferring:
            configs["duet send --idle"] = (True, [ctx.send_duet_deferring])
        configs["duet send then duet scrub"] = (True, [ctx.send_duet, ctx.scrub_duet])
        if ctx.send_duet_deferring:
            configs["duet send --idle then duet scrub --idle"] = (True, [ctx.send_duet_deferring, ctx.scrub_duet_deferring])
    return configs


def run_configuration(ctx, name, with_watch, steps, listing, rate, distribution, seed, ioprio=("-c3",), trace=None):
    """One configuration: caches dropped, the foreground alone for the warm-up, then the
    maintenance steps one after another beside it; the foreground stops at the end of its
    window, the maintenance runs to completion. In the idle contention mode the maintenance's
    group is limited to what the foreground leaves (B - rate) until the foreground process has
    exited, then to B; a step that starts after the foreground has exited starts at B."""
    fs, args = ctx.fs, ctx.args
    log = fs.path("live", "foreground.log") if args.appends else None
    # Every configuration starts with an empty ledger: otherwise what the previous one's foreground
    # read after its scrub completed (another point's hot set) counts as verified since the last
    # complete scrub, and a duet scrub skips files this point's foreground never read.
    shutil.rmtree(ctx.state, ignore_errors=True)
    drop_caches()
    watch = Watch(ctx.duet, fs, ctx.state) if with_watch else None
    foreground = process = None
    kind = None
    try:
        if watch:
            watch.__enter__()
        device_before = fs.bytes_read()
        config = {"listing": listing, "rate": rate, "seed": seed, "window": args.warmup + args.window,
                  "distribution": distribution, "cache": args.cache_seconds, "log": log}
        idle = ctx.idle
        if idle:
            ctx.maintenance.set_limit(idle_limit(ctx.maintenance.bandwidth, rate))
        started = time.monotonic()
        foreground = subprocess.Popen(ctx.throttle.wrap([sys.executable, FOREGROUND, json.dumps(config)]),
                                      stdout=subprocess.PIPE, text=True)
        window_end = started + args.warmup + args.window
        raised_at = None  # seconds after the start when the maintenance's limit went up to B

        def raise_when_foreground_exits():
            nonlocal raised_at
            if idle and raised_at is None and foreground.poll() is not None:
                ctx.maintenance.set_limit(ctx.maintenance.bandwidth)
                raised_at = round(time.monotonic() - started, 2)

        step_results = []
        in_window = None  # (steps finished, share of the current step) at the window's end
        ahead_in_window = ahead_share = None  # the duet scrub's verified-ahead bytes in that sample, and their share
        if steps:
            time.sleep(args.warmup)
        for index, step in enumerate(steps):
            kind = ctx.kind(step)
            raise_when_foreground_exits()  # the window is over already: the step starts at B
            step_start = time.monotonic()
            step_limit = ctx.maintenance.limit
            process = subprocess.Popen(ctx.maintenance.wrap_counted(step, list(ioprio) if ioprio else None),
                                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, start_new_session=True)
            sampled = None
            timeline = []
            while process.poll() is None:
                now = time.monotonic()
                if trace is not None:
                    timeline.append((round(now - started, 2), maintenance_progress(kind, fs, ctx.state, ctx.stream)))
                if sampled is None and in_window is None and now >= window_end:
                    if kind == "duet-scrub":  # one read of the checkpoint for both figures
                        own, ahead_in_window = duet_scrub_checkpoint(ctx.state)
                        sampled = own + ahead_in_window
                    else:
                        sampled = maintenance_progress(kind, fs, ctx.state, ctx.stream)
                raise_when_foreground_exits()  # after the sample: the window's share is taken at the idle limit
                time.sleep(0.2)
            stderr = process.stderr.read()
            process.stderr.close()
            final = maintenance_progress(kind, fs, ctx.state, ctx.stream)
            if in_window is None and sampled is not None:
                in_window = (index, min(sampled / final, 1.0) if final > 0 else 0.0)
                if ahead_in_window is not None:
                    ahead_share = min(ahead_in_window / final, 1.0) if final > 0 else 0.0
            messages = "\n".join(l for l in stderr.splitlines() if not l.startswith("read_bytes="))
            statistics = send_statistics(messages) if kind == "duet-send" else None
            step_results.append({"step": kind, "seconds": round(time.monotonic() - step_start, 3), "status": process.returncode,
                                 "read_bytes": read_bytes_of(stderr), "work_units": final,
                                 "started_at_limit": step_limit,
                                 "stderr": "" if statistics else messages[-300:]})
            if statistics:
                step_results[-1]["send_statistics"] = statistics
            process = None
            if trace is not None:
                trace[f"{name} step {index}"] = timeline
        output = foreground.communicate()[0]
        raise_when_foreground_exits()
        fg = json.loads(output) if output.strip() else None
        total = fs.bytes_read() - device_before
    finally:
        if process is not None and process.poll() is None:  # interrupted: stop the step and its children
            stop_process(process, session=True)
            if kind == "kernel-scrub":
                subprocess.run(["btrfs", "scrub", "cancel", fs.mnt], capture_output=True)
        stop_process(foreground)
        if foreground is not None and foreground.stdout:
            foreground.stdout.close()
        watch_status = None
        if watch and getattr(watch, "process", None) is not None:
            watch.__exit__(None, None, None)
            watch_status = watch.status
    if log and os.path.exists(log):
        os.unlink(log)
        run(["btrfs", "-q", "filesystem", "sync", fs.mnt])
    own_share = None  # the duet scrub's work in the window without what was verified ahead of it
    if steps:
        finished, share = in_window if in_window is not None else (len(steps), 0.0)
        done_share = (finished + share) / len(steps)
        if ahead_share is not None:
            own_share = (finished + max(share - ahead_share, 0.0)) / len(steps)
    else:
        done_share = None
    # Device bytes of the maintenance: what the loop device served during the configuration,
    # less what the foreground read. `duet watch`'s own reads (tree blocks for mapping) count
    # against Duet. The tasks' read_bytes are kept too, but they include loading the programs
    # from the system disk after the cache drop.
    counted = [r["read_bytes"] for r in step_results]
    fg_reads = fg["device_read_bytes"] if fg else None
    maintenance_bytes = (max(total - fg_reads, 0) if steps else 0) if fg_reads is not None else None
    result = {"maintenance_device_bytes": maintenance_bytes,
              "maintenance_seconds": round(sum(r["seconds"] for r in step_results), 3) if steps else None,
              "work_done_in_window": round(done_share, 3) if done_share is not None else None,
              "work_done_in_window_behind_cursor": round(own_share, 3) if own_share is not None else None,
              "device_bytes_total": total, "device_bytes_not_foreground": (total - fg_reads) if fg_reads is not None else None,
              "maintenance_task_read_bytes": sum(c for c in counted if c is not None) if steps else 0,
              "steps": step_results, "foreground": fg}
    if idle and steps:
        result["maintenance_limit"] = {"in_window": idle_limit(ctx.maintenance.bandwidth, rate),
                                       "after_window": ctx.maintenance.bandwidth,
                                       "raised_at_seconds": raised_at, "window_end_seconds": round(args.warmup + args.window, 2)}
    if watch_status is not None:
        result["watch_status"] = watch_status
    return result


def bench_overlap(fs, duet, paths, snapshot, state, overlap, utilisation, bandwidth, has_duet_send, seed, args, throttle,
                  maintenance=None):
    """One overlap point (the hot set is this share of the files) at one utilisation: every
    configuration for every foreground distribution, caches dropped before each. `maintenance`:
    the maintenance's own group (idle contention), or None (it shares `throttle`)."""
    # A random hot set, spread over the disk like a real one: files created together lie together.
    hot = random.Random(seed).sample(paths, int(len(paths) * overlap))
    listing = os.path.join(fs.dir, "hot.list")
    with open(listing, "w") as f:
        f.write("\n".join(hot))
    ctx = OverlapContext(fs, duet, state, snapshot, throttle, args, maintenance)
    rate = bandwidth * utilisation
    point = {"overlap": overlap, "utilisation": utilisation, "bandwidth": bandwidth,
             "contention": "idle" if ctx.idle else "shared", "foregrounds": {}}
    if ctx.idle:
        point["maintenance_bandwidth_in_window"] = idle_limit(bandwidth, rate)
    wanted = args.configs.split(",") if args.configs else None
    distributions = args.foreground.split(",")
    if abs(overlap - 0.5) > 1e-9 and not args.all_foregrounds:
        distributions = distributions[:1]  # the overlap sweep with the first distribution only
    for distribution in distributions:
        results = {}
        for name, (with_watch, steps) in configurations(ctx, has_duet_send).items():
            if wanted and name not in wanted:
                continue
            results[name] = row = run_configuration(ctx, name, with_watch, steps, listing, rate, distribution, seed)
            fg = row["foreground"] or {}
            mb = row["maintenance_device_bytes"]
            print(f"overlap {overlap} util {utilisation} {distribution}: {name}: "
                  f"{(mb or 0) / 2**20:.0f} MiB, {row['maintenance_seconds']} s, in window {row['work_done_in_window']}, "
                  f"fg {fg.get('throughput', 0) / 2**20:.1f} MiB/s p99 {fg.get('latency_p99', 0) * 1000:.0f} ms", file=sys.stderr)
        point["foregrounds"][distribution] = results
    return point

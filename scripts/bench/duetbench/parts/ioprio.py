"""The ioprio part: whether idle I/O priority takes effect under the blkio throttle."""
import os
import random
import sys

from ..fixtures import Scheduler
from .overlap import OverlapContext, run_configuration


def check_ioprio(fs, state, throttle, args, paths):
    """Does idle I/O priority take effect? The kernel scrub beside the foreground, best-effort
    (-c2 -n0) against idle (-c3), on the loop device's `none` and `bfq` schedulers, both in the
    one shared group `throttle` whatever --contention says (that is what it demonstrates)."""
    hot = random.Random(args.seed).sample(paths, len(paths) // 2)
    listing = os.path.join(fs.dir, "hot.list")
    with open(listing, "w") as f:
        f.write("\n".join(hot))
    ctx = OverlapContext(fs, "/nonexistent", state, None, throttle, args)
    rows = []
    for scheduler in ("none", "bfq"):
        with Scheduler(fs, scheduler):
            for label, ioprio in (("best-effort", ["-c2", "-n0"]), ("idle", ["-c3"])):
                row = run_configuration(ctx, "kernel scrub", False, [ctx.scrub_kernel], listing,
                                        throttle.bandwidth * 0.5, "uniform", args.seed, ioprio=ioprio)
                fg = row["foreground"] or {}
                rows.append({"scheduler": scheduler, "ioprio": label, "work_done_in_window": row["work_done_in_window"],
                             "scrub_seconds": row["maintenance_seconds"], "fg_throughput": fg.get("throughput"),
                             "fg_latency_mean": fg.get("latency_mean"), "fg_latency_p99": fg.get("latency_p99")})
                print(f"ioprio {scheduler} {label}: scrub in window {row['work_done_in_window']}, "
                      f"fg p99 {fg.get('latency_p99', 0) * 1000:.0f} ms", file=sys.stderr)
    return rows

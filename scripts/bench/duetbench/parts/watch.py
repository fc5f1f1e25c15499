"""The watch part: foreground slowdown with `duet watch` on vs off, and the event rates it handles."""
import json
import os
import statistics
import subprocess
import sys
import time

from ..cgroups import Throttle
from ..fixtures import drop_caches, run, stop_process
from ..watcher import Watch, next_status, status_file
from ..workloads import PAGE_LOOP


def page_loop_watched(bigs, seconds, state):
    """The page-cache loop beside a running watcher, bracketed by its status. The status is only
    written once per --log-interval (1 s here), so the bracket is a fresh write just before the
    loop starts and the second write after it ends (the first can come before the probes' last
    merged runs of pages reach the watcher: measured, it missed ~4% of the loop's events). It
    holds the whole loop plus one to two idle seconds around it, when nothing reads the file
    system and no events arise; divided by the loop's own duration it is the rate the watcher
    handled during the loop. The per-interval rates written during the loop (eventsPerSecond,
    pageEventsPerSecond) give the busiest second; the first and last straddle the loop's ends.
    One loop process per file in `bigs`, all at once (more than one: a rate one loop cannot reach)."""
    identity, before = next_status(state, status_file(state)[0])
    start = time.monotonic()
    loops = [subprocess.Popen([sys.executable, PAGE_LOOP, big, str(seconds)], stdout=subprocess.PIPE, text=True)
             for big in bigs]
    peak = peak_pages = 0.0
    seen = identity
    try:
        while any(loop.poll() is None for loop in loops):
            current, status = status_file(state)
            if status is not None and current != seen:
                seen = current
                peak = max(peak, float(status.get("eventsPerSecond", 0)))
                peak_pages = max(peak_pages, float(status.get("pageEventsPerSecond", 0)))
            time.sleep(0.1)
        outputs = [loop.communicate()[0] for loop in loops]
    finally:
        for loop in loops:
            stop_process(loop)
    elapsed = time.monotonic() - start
    for loop in loops:
        if loop.returncode != 0:
            raise RuntimeError(f"page-cache loop exited {loop.returncode}")
    # The second write after the loop: the first may come before the last merged runs of pages
    # reach the watcher.
    seen, _ = next_status(state, seen)
    _, after = next_status(state, seen)
    measured = [tuple(map(float, output.split())) for output in outputs]
    pages_per_second = sum(rate for rate, _ in measured)
    loop_seconds = max(seconds for _, seconds in measured)
    # Events per second over the loop's own duration (the process's start-up and exit, in
    # `elapsed`, generate no events on this file system).
    row = {"pages_per_second": pages_per_second, "seconds": round(loop_seconds, 3), "process_seconds": round(elapsed, 3)}
    elapsed = loop_seconds
    # What the loop generated: an add and a remove event per page.
    row["page_events_generated_per_second"] = round(2 * pages_per_second, 1)
    if before is not None and after is not None:
        # Records: what the source delivered (the eBPF probes merge a run of pages into one record);
        # page events: the same counted per page by the creditor (creditor.pageEvents, newer watchers).
        delivered = after["eventsDelivered"] - before["eventsDelivered"]
        row.update({"source": after.get("source"), "records_delivered": delivered,
                     "records_lost": after["eventsLost"] - before["eventsLost"],
                     "records_per_second": round(delivered / elapsed, 1),
                     "peak_interval_records_per_second": round(max(peak, float(after.get("eventsPerSecond", 0))), 1)})
        pages_before, pages_after = (before.get("creditor") or {}).get("pageEvents"), (after.get("creditor") or {}).get("pageEvents")
        if pages_before is not None and pages_after is not None:
            row.update({"page_events_handled": pages_after - pages_before,
                        "page_events_handled_per_second": round((pages_after - pages_before) / elapsed, 1),
                        "peak_interval_page_events_per_second": round(max(peak_pages, float(after.get("pageEventsPerSecond", 0))), 1)})
    return row


def spread(values):
    return {"mean": round(statistics.fmean(values), 1), "median": round(statistics.median(values), 1),
            "min": round(min(values), 1), "max": round(max(values), 1)}


def bench_watch(fs, duet, paths, state, seconds, rounds, fio_bandwidth):
    """Foreground throughput with `duet watch` off and on, alternated: the page-cache loop, the
    fio job bound by a blkio read throttle of `fio_bandwidth` (a disk-like device) and the same
    fio job on the bare loop device (bound by the host's virtual disk)."""
    big, second = fs.path("pagecache.bin"), fs.path("pagecache2.bin")  # the second for two loops at once
    for path in (big, second):
        with open(path, "wb") as f:
            f.write(os.urandom(64 << 20))
    run(["btrfs", "-q", "filesystem", "sync", fs.mnt])
    # Disk-bound and through the page cache (so every read is an event): buffered random 4 KiB
    # reads without readahead over a file far larger than what the run can bring into memory.
    disk_file = fs.path("randread.bin")
    # A quarter of the file system, and it must fit beside the data: on a small one (--quick) the
    # kernel scrubs of the overlap part leave fewer unallocated bytes behind (their read-only block
    # groups make btrfs allocate chunks), so never more than the free space less a margin.
    free = os.statvfs(fs.mnt)
    free_mib = free.f_bavail * free.f_frsize >> 20
    size = f"{max(64, min(max(256, int(fs.size_gib * 256)), free_mib - 32))}m"
    run(["fio", "--name=layout", f"--filename={disk_file}", f"--size={size}", "--rw=write", "--bs=1m", "--output=/dev/null"])
    fio_job = ["fio", "--name=disk", "--rw=randread", "--bs=4k", "--direct=0", "--invalidate=1", "--fadvise_hint=1",
               "--ioengine=psync", f"--filename={disk_file}", f"--size={size}", "--readonly", f"--runtime={seconds}",
               "--time_based", "--output-format=json"]
    names = ("page_cache_loop", "fio_randread_throttled", "fio_randread")
    results = {name: {"off": [], "on": []} for name in names}
    watcher = []  # per "on" sample: the watcher's records during the page-cache loop, and its session's losses
    group = Throttle(fs, fio_bandwidth, "watch-fio")
    try:
        for _ in range(rounds):
            for mode in ("off", "on"):
                def measure(watched):
                    if watched:
                        row = page_loop_watched([big], seconds, state)
                        loop = row["pages_per_second"]
                    else:
                        loop = float(run([sys.executable, PAGE_LOOP, big, str(seconds)]).stdout.split()[0])
                        row = None
                    throttled = json.loads(run(group.wrap(fio_job)).stdout)["jobs"][0]["read"]["iops"]
                    bare = json.loads(run(fio_job).stdout)["jobs"][0]["read"]["iops"]
                    results["page_cache_loop"][mode].append(loop)
                    results["fio_randread_throttled"][mode].append(throttled)
                    results["fio_randread"][mode].append(bare)
                    return row
                drop_caches()
                if mode == "on":
                    with Watch(duet, fs, state) as watch:
                        row = measure(True)
                    status = watch.status or {}
                    row = row or {}
                    row["session_records_lost"] = status.get("eventsLost")
                    row["session_records_delivered"] = status.get("eventsDelivered")
                    watcher.append(row)
                    print(f"watch on: loop {row.get('pages_per_second', 0):.0f} pages/s, watcher handled "
                          f"{row.get('page_events_handled_per_second', 0):.0f} page events/s in {row.get('records_per_second', 0):.0f} records/s, "
                          f"{row.get('records_lost')} lost in the loop, {row.get('session_records_lost')} in the session", file=sys.stderr)
                else:
                    measure(False)
        # The rate one loop cannot reach (the issue asks for no loss at 500k page events/s): two
        # loops at once on two files, watcher on; only its rates and losses count, not a slowdown.
        drop_caches()
        with Watch(duet, fs, state) as watch:
            stress = page_loop_watched([big, second], seconds, state)
        stress["session_records_lost"] = (watch.status or {}).get("eventsLost")
        print(f"watch stress (2 loops): {stress.get('page_events_generated_per_second', 0):.0f} page events/s generated, "
              f"{stress.get('page_events_handled_per_second', 0):.0f} handled, {stress.get('records_lost')} lost", file=sys.stderr)
    finally:
        group.close()
    units = {"page_cache_loop": "pages/s", "fio_randread_throttled": "IOPS", "fio_randread": "IOPS"}
    summary = {}
    for name, modes in results.items():
        off, on = spread(modes["off"]), spread(modes["on"])
        summary[name] = {"unit": units[name], "samples": len(modes["off"]),
                         "off_mean": off["mean"], "off_median": off["median"], "on_mean": on["mean"], "on_median": on["median"],
                         "slowdown_percent_median": round((1 - on["median"] / off["median"]) * 100, 2) if off["median"] else None,
                         "slowdown_percent_mean": round((1 - on["mean"] / off["mean"]) * 100, 2) if off["mean"] else None,
                         "off_min": off["min"], "off_max": off["max"], "on_min": on["min"], "on_max": on["max"],
                         # The off samples' range relative to their median: a slowdown below it is within the noise.
                         "off_spread_percent": round((off["max"] - off["min"]) / off["median"] * 100, 2) if off["median"] else None}
    def collect(key, reduce):
        values = [r[key] for r in watcher if r.get(key) is not None]
        return reduce(values) if values else None

    def mean(values):
        return round(statistics.fmean(values), 1)

    summary["watcher"] = {
        "source": next((r["source"] for r in watcher if r.get("source")), None),
        "page_events_handled_per_second_mean": collect("page_events_handled_per_second", mean),
        "page_events_handled_per_second_max": collect("page_events_handled_per_second", max),
        "peak_interval_page_events_per_second": collect("peak_interval_page_events_per_second", max),
        "page_events_generated_per_second_mean": collect("page_events_generated_per_second", mean),
        "page_events_generated_per_second_max": collect("page_events_generated_per_second", max),
        "records_per_second_mean": collect("records_per_second", mean),
        "records_per_second_max": collect("records_per_second", max),
        "peak_interval_records_per_second": collect("peak_interval_records_per_second", max),
        "records_lost_in_page_cache_loops": collect("records_lost", sum),
        "records_lost_total": collect("session_records_lost", sum)}
    setup = {"seconds": seconds, "rounds": rounds, "fio_size": size, "fio_throttle_bytes_per_second": fio_bandwidth,
             "fio_throttle_4k_iops_cap": fio_bandwidth // 4096}
    throttled = summary["fio_randread_throttled"]["off_median"]
    # How close the throttled job came to the limit's IOPS (its csum tree reads count against the
    # limit too): near 1, the throttle and not the host's disk bounds it.
    setup["fio_throttle_cap_reached"] = round(throttled / max(setup["fio_throttle_4k_iops_cap"], 1), 3)
    print(f"watch overhead: {summary}", file=sys.stderr)
    summary["watcher_two_loops"] = {key: stress.get(key) for key in (
        "page_events_generated_per_second", "page_events_handled_per_second", "records_per_second", "records_lost",
        "session_records_lost")}
    return {"setup": setup, "samples": results, "watcher_samples": watcher, "watcher_two_loops": stress, "summary": summary}

"""What the overlap and ioprio parts share: the blkio groups (the foreground's, the maintenance's,
or one shared group), their measured read rates and the setup record, then both parts in turn."""
import sys

from ..cgroups import Throttle, idle_limit
from ..fixtures import Scheduler
from .ioprio import check_ioprio
from .overlap import bench_overlap


def run_throttled_parts(fs, args, parts, paths, snapshot, state, has_duet_send, report):
    """The overlap and ioprio parts (whichever `parts` names) under their throttle groups, always
    removed afterwards; adds overlap_setup, overlap and ioprio to `report`."""
    bandwidth = int(args.bandwidth * (1 << 20))
    overlaps = [0.5] if args.quick else [float(x) for x in args.overlaps.split(",")]
    utilisations = [0.5] if args.quick else [float(x) for x in args.utilisation.split(",")]
    points = [(overlap, utilisations[0]) for overlap in overlaps]
    points += [(0.5, utilisation) for utilisation in utilisations[1:] if (0.5, utilisation) not in points]
    groups = []  # every group made, all removed in the finally
    try:
        # The shared group: the foreground and the maintenance (shared contention), and the ioprio part.
        shared = None
        if args.contention == "shared" or "ioprio" in parts:
            shared = Throttle(fs, bandwidth)
            groups.append(shared)
        foreground_group, maintenance_group = shared, None
        if args.contention == "idle" and "overlap" in parts:
            foreground_group = Throttle(fs, bandwidth, "foreground")
            groups.append(foreground_group)
            maintenance_group = Throttle(fs, bandwidth, "maintenance")
            groups.append(maintenance_group)
        with Scheduler(fs, args.scheduler):
            measured = {"foreground" if maintenance_group else "shared": round((foreground_group or shared).measured_read_rate(fs))}
            if maintenance_group:
                maintenance_group.set_limit(idle_limit(bandwidth, bandwidth * utilisations[0]))
                measured["maintenance"] = round(maintenance_group.measured_read_rate(fs))
                measured["maintenance_limit"] = maintenance_group.limit
                maintenance_group.set_limit(bandwidth)
            if shared and maintenance_group:  # the ioprio part's group as well
                measured["shared"] = round(shared.measured_read_rate(fs))
            idle = args.contention == "idle" and maintenance_group is not None  # ioprio alone: the shared group
            report["overlap_setup"] = {
                "bandwidth": bandwidth, "throttle_measured": measured.get("foreground", measured.get("shared")),
                "throttle_measured_groups": measured,
                "contention": "idle" if idle else "shared",
                "contention_note": (
                    "Emulates an idle-class I/O scheduler: blk-throttle sits above the I/O scheduler, so idle I/O "
                    "priority cannot take effect under it on this kernel; the foreground runs in a group limited to "
                    "the bandwidth B and the maintenance in a second group limited to B x (1 - utilisation) until "
                    "the foreground exits, then to B: exactly the bandwidth the foreground leaves it."
                    if idle else
                    "Foreground and maintenance share one group limited to the bandwidth B; blk-throttle sits above "
                    "the I/O scheduler, so the maintenance's idle I/O priority has no effect and it competes "
                    "with the foreground as a best-effort task would."),
                "scheduler": Scheduler.current(fs), "overlaps": overlaps, "utilisations": utilisations,
                "foregrounds": args.foreground.split(","), "all_foregrounds": args.all_foregrounds, "appends": args.appends, "warmup": args.warmup,
                "window": args.window, "cache_seconds": args.cache_seconds,
                "maintenance": {"kernel scrub": "ionice -c3 btrfs scrub start -B -c 3",
                                "duet scrub": f"ionice -c3 duet scrub start {args.duet_scrub_args}".strip(),
                                "kernel send": "ionice -c3 btrfs send -q", "duet send": "ionice -c3 duet send --json --state-dir"}}
            if idle and "--idle" not in (args.duet_scrub_args or "").split() and not args.quick:
                report["overlap_setup"]["maintenance"].update({"duet scrub --idle": "ionice -c3 duet scrub start --idle",
                                                               "duet send --idle": "ionice -c3 duet send --idle --json --state-dir"})
            if idle:
                report["overlap_setup"]["maintenance_bandwidth_in_window"] = {
                    f"{u:g}": idle_limit(bandwidth, bandwidth * u) for u in utilisations}
            print(f"throttle: {args.bandwidth:g} MiB/s configured ({'idle' if idle else 'shared'} contention), measured "
                  + ", ".join(f"{k} {v / 2**20:.1f} MiB/s" for k, v in measured.items() if k != "maintenance_limit"),
                  file=sys.stderr)
            if "overlap" in parts:
                report["overlap"] = [bench_overlap(fs, args.duet, paths, snapshot, state, overlap, utilisation, bandwidth,
                                                   has_duet_send, args.seed, args, foreground_group, maintenance_group)
                                     for overlap, utilisation in points]
        if "ioprio" in parts:
            report["ioprio"] = check_ioprio(fs, state, shared, args, paths)
    finally:
        for group in groups:
            group.close()

"""The results: results.json as the run collected it, and the human tables (results.md, printed)."""
import json
import os
import platform


STOCK = {"duet scrub": "kernel scrub", "duet scrub --idle": "kernel scrub", "duet send": "kernel send",
         "duet send --idle": "kernel send", "duet send then duet scrub": "kernel send then scrub",
         "duet send --idle then duet scrub --idle": "kernel send then scrub"}
TOOLS = ("duet scrub", "duet scrub --idle", "duet send", "duet send --idle")
PAIRS = ("duet send then duet scrub", "duet send --idle then duet scrub --idle")


def mib(value):
    return f"{value / 2**20:.0f}" if isinstance(value, (int, float)) else "—"


def mibps(value):
    """Bytes per second as MiB/s, without a needless decimal: 25, 5, 12.5."""
    return f"{value / 2**20:.1f}".rstrip("0").rstrip(".")


def contention_phrase(point, bandwidth):
    """How the maintenance competed with the foreground at this point, for a heading."""
    if point.get("contention", "shared") == "idle":
        return (f", maintenance gets the idle {mibps(point['maintenance_bandwidth_in_window'])} MiB/s until the window ends, "
                f"then {mibps(bandwidth)} MiB/s (idle class emulated with a second throttle group)")
    return ", foreground and maintenance in one throttle group (ionice -c3 has no effect under it)"


def overlap_table(report):
    lines = []
    bandwidth = report["overlap_setup"]["bandwidth"]
    for point in report.get("overlap", []):
        for distribution, configs in point["foregrounds"].items():
            lines += [f"Overlap {point['overlap']:.0%}, {distribution} foreground at {point['utilisation']:.0%} of a "
                      f"{mibps(bandwidth)} MiB/s device{contention_phrase(point, bandwidth)}:", "",
                      "| configuration | maintenance MiB read | vs stock | time s | work done in window | fg MiB/s | fg device MiB/s | fg mean ms | fg p99 ms |",
                      "|---|---|---|---|---|---|---|---|---|"]
            for name, row in configs.items():
                fg = row["foreground"] or {}
                base = configs.get(STOCK.get(name, ""), {}).get("maintenance_device_bytes")
                own = row["maintenance_device_bytes"]
                ratio = f"{own / base:.2f}" if base and own is not None else ""
                seconds = f"{row['maintenance_seconds']:.1f}" if row["maintenance_seconds"] is not None else ""
                window = f"{row['work_done_in_window']:.0%}" if row["work_done_in_window"] is not None else ""
                if row.get("work_done_in_window_behind_cursor") is not None:
                    window += f" ({row['work_done_in_window_behind_cursor']:.0%} behind cursor)"
                device_rate = fg.get("device_read_bytes", 0) / fg["seconds"] / 2**20 if fg.get("seconds") else 0
                lines.append(f"| {name} | {mib(own) if row['steps'] else ''} | {ratio} | {seconds} | {window} | "
                             f"{fg.get('throughput', 0) / 2**20:.1f} | {device_rate:.1f} | {fg.get('latency_mean', 0) * 1000:.1f} | "
                             f"{fg.get('latency_p99', 0) * 1000:.1f} |")
            lines.append("")
    if report.get("ioprio"):
        lines += ["Idle I/O priority check (kernel scrub beside a uniform foreground at 50%, overlap 50%, both in one throttle group):", "",
                  "| loop scheduler | scrub I/O class | scrub work done in window | scrub s | fg MiB/s | fg mean ms | fg p99 ms |",
                  "|---|---|---|---|---|---|---|"]
        for row in report["ioprio"]:
            lines.append(f"| {row['scheduler']} | {row['ioprio']} | {row['work_done_in_window']:.0%} | {row['scrub_seconds']:.1f} | "
                         f"{(row['fg_throughput'] or 0) / 2**20:.1f} | {(row['fg_latency_mean'] or 0) * 1000:.1f} | "
                         f"{(row['fg_latency_p99'] or 0) * 1000:.1f} |")
        lines.append("")
    return lines


def goals(report):
    """The issue's goals, checked against this run's numbers (nothing asserted: printed)."""
    lines = []
    points = report.get("overlap", [])
    base_util = report["overlap_setup"]["utilisations"][0]
    for point in points:
        for distribution, configs in point["foregrounds"].items():
            o, u = point["overlap"], point["utilisation"]
            for name in TOOLS:
                row, base = configs.get(name), configs.get(STOCK[name])
                if row and base and base["maintenance_device_bytes"] and row["maintenance_device_bytes"] is not None:
                    ratio = row["maintenance_device_bytes"] / base["maintenance_device_bytes"]
                    fg = row["foreground"] or {}
                    # What skipping alone can reach: the foreground read only part of the hot set.
                    floor = 1 - o * fg.get("distinct_files", 0) / max(fg.get("hot_files", 1), 1)
                    lines.append(f"| {name} bytes ≤ (1 − overlap) + 3% of stock | {o:.0%} | {u:.0%} | {distribution} | "
                                 f"{ratio:.2f} (floor {floor:.2f}) | ≤ {1 - o + 0.03:.2f} | {'met' if ratio <= 1 - o + 0.03 else 'not met'} |")
            for name in PAIRS:
                row, base = configs.get(name), configs.get(STOCK[name])
                if row and base and base["maintenance_device_bytes"] and row["maintenance_device_bytes"] is not None:
                    ratio = row["maintenance_device_bytes"] / base["maintenance_device_bytes"]
                    goal = 0.33 if abs(o - 0.5) < 1e-9 else 0.55
                    lines.append(f"| {name}: bytes vs stock pair | {o:.0%} | {u:.0%} | {distribution} | {ratio:.2f} | ≤ {goal:.2f} | "
                                 f"{'met' if ratio <= goal else 'not met'} |")
            if abs(o - 0.5) < 1e-9 and abs(u - 0.9) < 1e-9:
                for name in TOOLS + PAIRS:
                    row, base = configs.get(name), configs.get(STOCK[name])
                    if row and base and base["work_done_in_window"] is not None and row["work_done_in_window"] is not None:
                        b, d = base["work_done_in_window"], row["work_done_in_window"]
                        factor = f"{d / b:.1f}×" if b > 0 else ("∞" if d > 0 else "0/0")
                        behind = row.get("work_done_in_window_behind_cursor")
                        if behind is not None and b > 0:
                            factor += f"; behind the cursor {behind:.0%}, {behind / b:.1f}×"
                        lines.append(f"| {name}: work done in window ≥ 2× stock | {o:.0%} | {u:.0%} | {distribution} | "
                                     f"{d:.0%} vs {b:.0%} ({factor}) | ≥ 2× | {'met' if d >= 2 * b and d > 0 else 'not met'} |")
            alone, watched = configs.get("foreground alone"), configs.get("duet watch alone")
            if alone and watched and alone["foreground"] and watched["foreground"]:
                a, w = alone["foreground"]["latency_mean"], watched["foreground"]["latency_mean"]
                lines.append(f"| duet watch: fg mean latency +≤1% | {o:.0%} | {u:.0%} | {distribution} | "
                             f"{(w / a - 1) * 100:+.1f}% | ≤ +1% | {'met' if w <= a * 1.01 else 'not met'} |")
    if not lines:
        return []
    mode = report["overlap_setup"].get("contention", "shared")
    return ["Goals of issue #6 against this run (contention: " + mode + "). Floor: 1 − overlap × the share of the hot "
            "files the foreground read in that configuration, i.e. the bytes left if everything it read were skipped.", "",
            "| goal | overlap | utilisation | foreground | measured | goal | |", "|---|---|---|---|---|---|---|"] + lines + [""]


def machine():
    """The machine, without its host name: vCPUs, CPU model, RAM and kernel."""
    cpu = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name")), "?")
    memory = int(open("/proc/meminfo").readline().split()[1]) >> 20
    return f"{os.cpu_count()} vCPUs ({cpu}), {memory} GiB RAM, Linux {platform.release()}"


def watch_table(watch):
    summary, setup = watch["summary"], watch.get("setup", {})
    labels = {"page_cache_loop": "page_cache_loop (pread + `POSIX_FADV_DONTNEED`)",
              "fio_randread_throttled": f"fio_randread_throttled (buffered 4 KiB, blkio read limit "
                                        f"{mibps(setup.get('fio_throttle_bytes_per_second', 0))} MiB/s ≈ "
                                        f"{setup.get('fio_throttle_4k_iops_cap', 0)} IOPS: a disk-like device; off median at "
                                        f"{setup.get('fio_throttle_cap_reached', 0):.0%} of that)",
              "fio_randread": "fio_randread (buffered 4 KiB, bare loop device: the host's virtual disk, noisy)"}
    rounds = setup.get("rounds", "?")
    lines = [f"`duet watch` off vs on, alternated, {rounds} round{'' if rounds == 1 else 's'} of {setup.get('seconds', '?')} s "
             "(median and mean of the samples; a slowdown smaller than the off samples' spread is within the noise):", "",
             "| foreground | unit | off median | on median | slowdown (medians) | off mean | on mean | slowdown (means) | off min–max (spread) |",
             "|---|---|---|---|---|---|---|---|---|"]
    for name, row in summary.items():
        if name in ("watcher", "watcher_two_loops"):
            continue
        slow_median = f"{row['slowdown_percent_median']:.2f}%" if row["slowdown_percent_median"] is not None else ""
        slow_mean = f"{row['slowdown_percent_mean']:.2f}%" if row["slowdown_percent_mean"] is not None else ""
        noise = f"{row['off_min']:.0f}–{row['off_max']:.0f} ({row['off_spread_percent']:.1f}%)" if row["off_spread_percent"] is not None else ""
        lines.append(f"| {labels.get(name, name)} | {row['unit']} | {row['off_median']:.0f} | {row['on_median']:.0f} | {slow_median} | "
                     f"{row['off_mean']:.0f} | {row['on_mean']:.0f} | {slow_mean} | {noise} |")
    lines.append("")
    w = summary.get("watcher") or {}

    def n(key):
        return f"{w[key]:,.0f}" if w.get(key) is not None else "?"
    if w.get("records_per_second_mean") is not None:
        lines += [f"Watcher ({w.get('source')}) during the page-cache loop (mean / best sample): "
                  f"{n('page_events_handled_per_second_mean')} / {n('page_events_handled_per_second_max')} page events/s handled, as "
                  f"{n('records_per_second_mean')} / {n('records_per_second_max')} records/s (the probes merge runs of pages "
                  f"into one record); the loop generated {n('page_events_generated_per_second_mean')} / "
                  f"{n('page_events_generated_per_second_max')} page events/s (an add and a remove per page). Busiest 1 s "
                  f"status interval: {n('peak_interval_page_events_per_second')} page events/s (intervals straddle the loop's "
                  f"ends and the merged runs arrive late, so in short samples it can read below the mean). Records lost: "
                  f"{n('records_lost_in_page_cache_loops')} during the loops, {n('records_lost_total')} in all watched samples.", ""]
    two = summary.get("watcher_two_loops") or {}
    if two.get("page_events_generated_per_second") is not None:
        def t(key):
            return f"{two[key]:,.0f}" if two.get(key) is not None else "?"
        lines += [f"Two page-cache loops at once (watcher on, rates only): {t('page_events_generated_per_second')} page events/s "
                  f"generated, {t('page_events_handled_per_second')} handled, as {t('records_per_second')} records/s; records lost: "
                  f"{t('records_lost')} during the loops, {t('session_records_lost')} in the watched session.", ""]
    return lines



def scale_table(scale):
    lines = [f"Scale: cold cache, both under `ulimit -n {scale['descriptor_limit']}`; {scale['files']:,} files "
             f"({' and '.join(f'{s} B' for s in scale['small_sizes'])} alternately), {scale['sparse_gib']:g} GiB of sparse-ish files "
             "(1 MiB data, 1 MiB hole).", "",
             "| snapshot | data extents | btrfs send s | duet send s | time ratio | btrfs RSS MiB | duet RSS MiB | duet RSS bound MiB "
             "| btrfs read MiB | duet read MiB | duet status | received identical |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for name in ("small", "sparse"):
        row = scale.get(name)
        if not row:
            continue
        k, d = row["kernel"], row["duet"]
        lines.append(f"| {name} | {row['data_extents']:,} | {k['seconds']:.1f} | {d['seconds']:.1f} | {row['time_ratio']:.2f} | "
                     f"{k['peak_rss_bytes'] / 2**20:.1f} | {d['peak_rss_bytes'] / 2**20:.1f} | {row['rss_bound_bytes'] / 2**20:.0f} | "
                     f"{k['device_bytes'] / 2**20:.0f} | {d['device_bytes'] / 2**20:.0f} | {d['status']} | {row['received_identical']} |")
    lines.append("")
    return lines


def table(report):
    lines = [f"Measured on {report['machine']}, {report['date']}"
             + (f", file system {report['size_gib']} GiB ({report['files']} files of {report['file_size'] >> 20} MiB)."
                if set(report) & {"scrub", "send", "pair", "overlap", "ioprio", "watch"} else "."), ""]
    if "scrub" in report:
        lines += ["| foreground read f | kernel scrub MiB | duet scrub MiB | bytes ratio | goal (1-f)+3% | kernel s | duet s | time ratio |",
                  "|---|---|---|---|---|---|---|---|"]
        for row in report["scrub"]:
            k, d = row["kernel"], row["duet"]
            lines.append(f"| {row['fraction']} | {k['device_bytes'] / 2**20:.1f} | {d['device_bytes'] / 2**20:.1f} | "
                         f"{d['device_bytes'] / max(k['device_bytes'], 1):.3f} | {1 - row['fraction'] + 0.03:.2f} | "
                         f"{k['seconds']:.2f} | {d['seconds']:.2f} | {d['seconds'] / max(k['seconds'], 1e-9):.2f} |")
        lines.append("")
    if "send" in report:
        lines += ["| live cached f | kernel send MiB | duet send MiB | bytes ratio | goal (1-f)+3% | kernel s | duet s | time ratio |",
                  "|---|---|---|---|---|---|---|---|"]
        for row in report["send"]:
            k = row["kernel"]
            d = row.get("duet")
            if d:
                lines.append(f"| {row['fraction']} | {k['device_bytes'] / 2**20:.1f} | {d['device_bytes'] / 2**20:.1f} | "
                             f"{d['device_bytes'] / max(k['device_bytes'], 1):.3f} | {1 - row['fraction'] + 0.03:.2f} | "
                             f"{k['seconds']:.2f} | {d['seconds']:.2f} | {d['seconds'] / max(k['seconds'], 1e-9):.2f} |")
            else:
                lines.append(f"| {row['fraction']} | {k['device_bytes'] / 2**20:.1f} | (no duet send) | | | {k['seconds']:.2f} | | |")
        lines.append("")
    if "pair" in report:
        pair = report["pair"]
        ratio = f"{pair['duet_bytes'] / max(pair['stock_bytes'], 1):.3f}" if "duet_bytes" in pair else "(no duet send)"
        lines += [f"Send then scrub after a 50% foreground read: stock {pair['stock_bytes'] / 2**20:.1f} MiB, "
                  f"Duet {pair.get('duet_bytes', 0) / 2**20:.1f} MiB, ratio {ratio}.", ""]
    if report.get("overlap") or report.get("ioprio"):
        lines += overlap_table(report) + goals(report)
    if "watch" in report:
        lines += watch_table(report["watch"])
    if "scale" in report:
        lines += scale_table(report["scale"])
    return "\n".join(lines)


def write(report, out):
    """results.json and results.md in `out`; returns the Markdown."""
    with open(os.path.join(out, "results.json"), "w") as f:
        json.dump(report, f, indent=2)
    markdown = table(report)
    with open(os.path.join(out, "results.md"), "w") as f:
        f.write(markdown + "\n")
    return markdown

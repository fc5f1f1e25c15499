"""PNG plots of a run with gnuplot (none without gnuplot)."""
import os
import shutil
import subprocess

from .report import PAIRS, STOCK, TOOLS, mibps


def machine_label(report):
    setup = report.get("overlap_setup", {})
    extra = ""
    if setup:
        extra = f", {mibps(setup['bandwidth'])} MiB/s read throttle"
        if setup.get("contention") == "idle":
            extra += ", idle class emulated (maintenance limited to the bandwidth the foreground leaves)"
        else:
            extra += ", foreground and maintenance in one group"
    return f"{report['machine']}; loop-backed btrfs {report['size_gib']} GiB{extra}"


def gnuplot(script):
    subprocess.run(["gnuplot"], input=script, text=True, check=True)


def plot_overlap(report, out):
    """PNG plots of the overlap part: I/O saved vs overlap, work done vs utilisation, and
    foreground latency with and without maintenance."""
    if not shutil.which("gnuplot") or not report.get("overlap"):
        return []
    made = []
    label = machine_label(report).replace('"', "'").replace("; ", "\\n")  # two lines: one is wider than the plot
    setup = report["overlap_setup"]
    base_util = setup["utilisations"][0]
    distributions = setup["foregrounds"]
    # 1. Device bytes relative to the stock tool against overlap, at the first utilisation.
    data = os.path.join(out, "overlap-io-saved.dat")
    series = []
    with open(data, "w") as f:
        for distribution in distributions:
            for name in TOOLS + PAIRS:
                rows = []
                for point in report["overlap"]:
                    if abs(point["utilisation"] - base_util) > 1e-9:
                        continue
                    configs = point["foregrounds"].get(distribution, {})
                    row, base = configs.get(name), configs.get(STOCK[name])
                    if row and base and base["maintenance_device_bytes"] and row["maintenance_device_bytes"] is not None:
                        rows.append((point["overlap"], row["maintenance_device_bytes"] / base["maintenance_device_bytes"]))
                if rows:
                    f.write(f"# {name} ({distribution})\n" + "".join(f"{x} {y}\n" for x, y in sorted(rows)) + "\n\n")
                    series.append(f"{name} vs stock ({distribution})")
    if series:
        png = os.path.join(out, "overlap-io-saved.png")
        plots = [f"'{data}' index {i} using 1:2 with linespoints lw 2 title '{title}'" for i, title in enumerate(series)]
        plots.append("(1 - x) + 0.03 with lines dt 2 lc rgb 'gray40' title 'goal (1 − overlap) + 3%'")
        gnuplot(f"""
set terminal pngcairo size 1300,620
set output '{png}'
set title "Device bytes read by maintenance beside the foreground, relative to the stock tool (utilisation {base_util:.0%})\\n{label}" font ",9"
set xlabel 'overlap (hot set as a share of the data)'
set ylabel 'bytes read relative to btrfs scrub / send'
set xrange [0:1.05]
set yrange [0:1.3]
set key outside right font ",8"
plot {", ".join(plots)}
""")
        made.append(png)
    # 2. Work done inside the foreground window against utilisation, at 50% overlap.
    data = os.path.join(out, "overlap-work-in-window.dat")
    series = []
    with open(data, "w") as f:
        for distribution in distributions:
            for name in ("kernel scrub", "duet scrub", "duet scrub --idle", "kernel send then scrub") + PAIRS:
                rows = []
                for point in report["overlap"]:
                    if abs(point["overlap"] - 0.5) > 1e-9:
                        continue
                    row = point["foregrounds"].get(distribution, {}).get(name)
                    if row and row["work_done_in_window"] is not None:
                        rows.append((point["utilisation"], row["work_done_in_window"] * 100))
                if rows:
                    f.write(f"# {name} ({distribution})\n" + "".join(f"{x} {y}\n" for x, y in sorted(rows)) + "\n\n")
                    series.append(f"{name} ({distribution})")
    if series:
        png = os.path.join(out, "overlap-work-vs-utilisation.png")
        plots = [f"'{data}' index {i} using 1:2 with linespoints lw 2 pt {i + 4} ps 1.3 {'dt 2 ' if t.startswith('kernel') else ''}title '{t}'"
                 for i, t in enumerate(series)]
        gnuplot(f"""
set terminal pngcairo size 1300,620
set output '{png}'
set title "Work done by scrubs and send-then-scrub pairs when the foreground window ends (overlap 50%, {setup['window']:.0f} s window)\\nduet scrub: with what it verified ahead of its cursor; sends alone in the table\\n{label}" font ",9"
set xlabel 'foreground device utilisation (share of the throttled bandwidth)'
set ylabel 'work done in the window (%)'
set autoscale x
set offsets 0.05, 0.05, 0, 0
set yrange [-3:105]
set key outside right font ",8"
plot {", ".join(plots)}
""")
        made.append(png)
    # 3. Foreground latency per configuration (overlap 50%, the first utilisation).
    point = next((p for p in report["overlap"] if abs(p["overlap"] - 0.5) < 1e-9 and abs(p["utilisation"] - base_util) < 1e-9),
                 report["overlap"][0])
    data = os.path.join(out, "overlap-latency.dat")
    with open(data, "w") as f:
        for distribution in distributions:
            configs = point["foregrounds"].get(distribution, {})
            f.write(f"# {distribution}: configuration mean_ms p99_ms\n")
            for name, row in configs.items():
                fg = row["foreground"] or {}
                f.write(f"\"{name}\" {fg.get('latency_mean', 0) * 1000:.2f} {fg.get('latency_p99', 0) * 1000:.2f}\n")
            f.write("\n\n")
    png = os.path.join(out, "overlap-latency.png")
    plots = []
    for i, distribution in enumerate(distributions):
        plots.append(f"'{data}' index {i} using 2:xtic(1) title 'mean ({distribution})'")
        plots.append(f"'{data}' index {i} using 3 title 'p99 ({distribution})'")
    gnuplot(f"""
set terminal pngcairo size 1300,620
set output '{png}'
set title "Foreground whole-file read latency with and without maintenance (overlap {point['overlap']:.0%}, utilisation {point['utilisation']:.0%})\\n{label}" font ",9"
set style data histogram
set style histogram clustered gap 1
set style fill solid 0.8 border -1
set boxwidth 0.9
set ylabel 'latency per 1 MiB file read (ms)'
set logscale y
set yrange [1:*]
set xtics rotate by -30 font ",8"
set key top left font ",8"
set bmargin 8
plot {", ".join(plots)}
""")
    made.append(png)
    return made


def plot(report, out):
    """PNG plots with gnuplot: device bytes relative to the stock tool against the fraction read."""
    if not shutil.which("gnuplot"):
        return []
    made = []
    for part in ("scrub", "send"):
        rows = [r for r in report.get(part, []) if r.get("duet")]
        if not rows:
            continue
        data = os.path.join(out, f"{part}.dat")
        with open(data, "w") as f:
            for row in rows:
                f.write(f"{row['fraction']} {row['duet']['device_bytes'] / max(row['kernel']['device_bytes'], 1)} "
                        f"{1 - row['fraction'] + 0.03}\n")
        png = os.path.join(out, f"{part}-io-saved.png")
        script = f"""
set terminal pngcairo size 800,500
set output '{png}'
set title "duet {part} vs btrfs {part}: device bytes read\\n{report['machine']}" font ",9"
set xlabel 'fraction of the data the foreground read (cached)'
set ylabel 'bytes read relative to btrfs {part}'
set yrange [0:1.2]
set key top right
plot '{data}' using 1:2 with linespoints lw 2 title 'duet {part}', '{data}' using 1:3 with lines dt 2 title 'goal (1-f)+3%', 1 with lines title 'btrfs {part}'
"""
        subprocess.run(["gnuplot"], input=script, text=True, check=True)
        made.append(png)
    return made + plot_overlap(report, out)

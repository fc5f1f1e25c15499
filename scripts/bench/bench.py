#!/usr/bin/env python3
"""Duet benchmarks: what stock btrfs maintenance reads and how long it takes, against Duet's,
on one loop-backed btrfs, side by side in one run.

Parts (each can be chosen with --parts):
  scrub   `btrfs scrub start -B` vs `duet scrub start` after the foreground read a fraction f of
          the files with `duet watch` running (f = 0, 0.25, 0.5, 0.75, 1); caches dropped first.
  send    `btrfs send` vs `duet send` of a snapshot after a fraction f of the live subvolume was
          read (cached under the live inodes); caches dropped first.
  pair    send then scrub, stock pair vs Duet pair, after a 50% foreground read.
  watch   foreground slowdown with `duet watch` on vs off: a page-cache-heavy loop
          (pread + POSIX_FADV_DONTNEED) and a disk-bound fio random-read job, alternated.
  overlap the SOSP'15 method: a webserver-like foreground reads whole 1 MiB files of a hot set
          (the overlap fraction of the data) at a rate set to a target share of a throttled
          device's bandwidth, while maintenance runs beside it; per configuration: the
          maintenance task's device bytes, its completion time, the share of its work done when
          the foreground window ends, and the foreground's throughput and latency.

Device bytes come from the loop device's counters (/sys/block/loopN/stat); the loop device
runs with direct I/O so the backing file's page cache cannot serve reads. Every ratio is
against the stock tool measured in the same run. Timings go here, never into tests.
"""
import argparse
import json
import os
import platform
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time

FRACTIONS = [0.0, 0.25, 0.5, 0.75, 1.0]


def run(args, **kwargs):
    return subprocess.run(args, check=True, text=True, capture_output=True, **kwargs)


def drop_caches():
    os.sync()
    with open("/proc/sys/vm/drop_caches", "w") as f:
        f.write("3\n")


class LoopBtrfs:
    """A btrfs on a direct-I/O loop device in a temporary directory, always torn down."""

    def __init__(self, size_gib, workdir):
        self.dir = tempfile.mkdtemp(prefix="duet-bench-", dir=workdir)
        self.image = os.path.join(self.dir, "disk.img")
        self.mnt = os.path.join(self.dir, "mnt")
        self.device = None
        self.size_gib = size_gib
        os.mkdir(self.mnt)
        with open(self.image, "wb") as f:
            f.truncate(int(size_gib * (1 << 30)))
        self.device = run(["losetup", "--find", "--show", "--direct-io=on", self.image]).stdout.strip()
        run(["mkfs.btrfs", "-q", "-f", "-d", "single", "-m", "dup", self.device])
        run(["mount", "-t", "btrfs", self.device, self.mnt])

    def bytes_read(self):
        name = os.path.basename(self.device)
        with open(f"/sys/block/{name}/stat") as f:
            return int(f.read().split()[2]) * 512

    def path(self, *parts):
        return os.path.join(self.mnt, *parts)

    def close(self):
        if os.path.ismount(self.mnt):
            subprocess.run(["umount", self.mnt])
        if self.device:
            subprocess.run(["losetup", "-d", self.device])
        shutil.rmtree(self.dir, ignore_errors=True)


def fill(fs, subvolume, files, file_size):
    """Writes `files` files of `file_size` bytes of incompressible data; returns their paths."""
    run(["btrfs", "-q", "subvolume", "create", fs.path(subvolume)])
    block = os.urandom(1 << 20)
    paths = []
    for index in range(files):
        directory = fs.path(subvolume, f"d{index // 256}")
        os.makedirs(directory, exist_ok=True)
        path = os.path.join(directory, f"f{index}")
        # Unique per file: a header of fresh random bytes, then a rotated shared block.
        with open(path, "wb") as f:
            remaining = file_size
            offset = index * 4099 % len(block)
            f.write(os.urandom(4096))
            remaining -= 4096
            while remaining > 0:
                chunk = (block[offset:] + block[:offset])[:remaining]
                f.write(chunk)
                remaining -= len(chunk)
        paths.append(path)
    run(["btrfs", "-q", "filesystem", "sync", fs.mnt])
    return paths


def read_files(paths):
    for path in paths:
        with open(path, "rb") as f:
            while f.read(1 << 20):
                pass


class Watch:
    """`duet watch` in the background for the duration of a `with` block."""

    def __init__(self, duet, fs, state):
        self.args = [duet, "watch", "--state-dir", state, "--log-interval", "1", fs.mnt]
        self.state = state

    def __enter__(self):
        status = os.path.join(self.state, "watch.json")
        if os.path.exists(status):
            os.unlink(status)
        self.process = subprocess.Popen(self.args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for _ in range(100):
            if os.path.exists(status):
                break
            time.sleep(0.1)
        return self

    def __exit__(self, *exc):
        time.sleep(3)  # past the creditor's settle window (1.5 s): pages still inside it are not credited
        self.process.send_signal(signal.SIGTERM)
        self.process.wait(timeout=60)


def timed(fs, args, **kwargs):
    drop_caches()
    before = fs.bytes_read()
    start = time.monotonic()
    result = subprocess.run(args, text=True, capture_output=True, **kwargs)
    seconds = time.monotonic() - start
    return {"seconds": round(seconds, 3), "device_bytes": fs.bytes_read() - before,
            "status": result.returncode, "stderr": result.stderr[-500:]}


def bench_scrub(fs, duet, paths, state, rounds):
    rows = []
    for fraction in FRACTIONS:
        for _ in range(rounds):
            chosen = random.sample(paths, int(len(paths) * fraction))
            drop_caches()
            with Watch(duet, fs, state):
                read_files(chosen)
            kernel = timed(fs, ["btrfs", "scrub", "start", "-B", fs.mnt])
            duet_run = timed(fs, [duet, "scrub", "start", "--json", "--state-dir", state, fs.mnt])
            rows.append({"fraction": fraction, "kernel": kernel, "duet": duet_run})
            print(f"scrub f={fraction}: kernel {kernel['device_bytes'] >> 20} MiB {kernel['seconds']} s, "
                  f"duet {duet_run['device_bytes'] >> 20} MiB {duet_run['seconds']} s", file=sys.stderr)
    return rows


def send_commands(duet, snapshot, has_duet_send):
    kernel = ["sh", "-c", f"btrfs send -q '{snapshot}' > /dev/null"]
    ours = ["sh", "-c", f"'{duet}' send -q '{snapshot}' > /dev/null"] if has_duet_send else None
    return kernel, ours


def bench_send(fs, duet, paths, live, snapshot, has_duet_send, rounds):
    rows = []
    kernel_cmd, duet_cmd = send_commands(duet, snapshot, has_duet_send)
    for fraction in FRACTIONS:
        for _ in range(rounds):
            chosen = random.sample(paths, int(len(paths) * fraction))
            kernel = timed(fs, kernel_cmd)
            row = {"fraction": fraction, "kernel": kernel}
            if duet_cmd:
                drop_caches()
                read_files(chosen)  # cached under the live subvolume's inodes
                before = fs.bytes_read()
                start = time.monotonic()
                result = subprocess.run(duet_cmd, text=True, capture_output=True)
                row["duet"] = {"seconds": round(time.monotonic() - start, 3), "device_bytes": fs.bytes_read() - before,
                               "status": result.returncode, "stderr": result.stderr[-500:]}
            rows.append(row)
            print(f"send f={fraction}: kernel {kernel['device_bytes'] >> 20} MiB {kernel['seconds']} s"
                  + (f", duet {row['duet']['device_bytes'] >> 20} MiB {row['duet']['seconds']} s" if duet_cmd else ""),
                  file=sys.stderr)
    return rows


def bench_pair(fs, duet, paths, snapshot, state, has_duet_send):
    """Send then scrub after a 50% foreground read: stock pair vs Duet pair (device bytes)."""
    chosen = random.sample(paths, len(paths) // 2)
    kernel_send, duet_send = send_commands(duet, snapshot, has_duet_send)
    drop_caches()
    read_files(chosen)
    before = fs.bytes_read()
    subprocess.run(kernel_send, capture_output=True)
    subprocess.run(["btrfs", "scrub", "start", "-B", fs.mnt], capture_output=True)
    stock = fs.bytes_read() - before
    result = {"stock_bytes": stock}
    if duet_send:
        drop_caches()
        with Watch(duet, fs, state):
            read_files(chosen)
            before = fs.bytes_read()
            subprocess.run(duet_send, capture_output=True)
        subprocess.run([duet, "scrub", "start", "--state-dir", state, fs.mnt], capture_output=True)
        result["duet_bytes"] = fs.bytes_read() - before
    return result


class Throttle:
    """A blkio (cgroup v1) group with a read limit on the loop device. The foreground and the
    maintenance task both run in it, so they compete for one disk-like bandwidth."""

    def __init__(self, fs, bytes_per_second):
        self.path = f"/sys/fs/cgroup/blkio/duet-bench-{os.getpid()}"
        os.makedirs(self.path, exist_ok=True)
        major_minor = run(["lsblk", "-dno", "MAJ:MIN", fs.device]).stdout.strip()
        with open(os.path.join(self.path, "blkio.throttle.read_bps_device"), "w") as f:
            f.write(f"{major_minor} {bytes_per_second}\n")
        self.bandwidth = bytes_per_second

    def wrap(self, args):
        """`args` run inside the group (the shell joins it, then execs)."""
        return ["sh", "-c", f'echo $$ > {self.path}/cgroup.procs && exec "$@"', "throttled"] + list(args)

    def close(self):
        for _ in range(50):
            try:
                os.rmdir(self.path)
                return
            except OSError:
                time.sleep(0.1)


FOREGROUND = r"""
import json, os, random, sys, time
listing, rate, seed = sys.argv[1], float(sys.argv[2]), int(sys.argv[3])
paths = [line.strip() for line in open(listing) if line.strip()]
random.Random(seed).shuffle(paths)
start = time.monotonic(); latencies = []; done = 0
for path in paths:
    due = start + done / rate
    now = time.monotonic()
    if due > now: time.sleep(due - now)
    t = time.monotonic()
    with open(path, "rb") as f:
        while True:
            chunk = f.read(1 << 20)
            if not chunk: break
            done += len(chunk)
    latencies.append(time.monotonic() - t)
elapsed = time.monotonic() - start
latencies.sort()
print(json.dumps({"seconds": elapsed, "bytes": done, "files": len(paths),
                  "throughput": done / elapsed, "latency_mean": sum(latencies) / len(latencies),
                  "latency_p99": latencies[int(len(latencies) * 0.99) - 1]}))
"""


def maintenance_progress(kind, fs, state, output):
    """The share of its work a maintenance task has done so far."""
    if kind == "kernel-scrub":
        raw = subprocess.run(["btrfs", "scrub", "status", "-R", fs.mnt], capture_output=True, text=True).stdout
        values = dict(line.strip().split(": ") for line in raw.splitlines() if ": " in line)
        return int(values.get("data_bytes_scrubbed", 0)) + int(values.get("tree_bytes_scrubbed", 0))
    if kind == "duet-scrub":
        try:
            record = json.load(open(os.path.join(state, "scrub.json")))
            c = record["counters"]
            return c["dataVerified"] + c["treeVerified"] + c["skippedVerified"]
        except (OSError, ValueError, KeyError):
            return 0
    return os.path.getsize(output) if os.path.exists(output) else 0


def bench_overlap(fs, duet, paths, snapshot, state, overlap, utilisation, bandwidth, has_duet_send, seed):
    """One overlap point: every configuration, caches dropped before each."""
    # A random hot set, spread over the disk like a real one: files created together lie together,
    # so the first files would all sit where a scrub reads first.
    hot = random.Random(seed).sample(paths, int(len(paths) * overlap))
    listing = os.path.join(fs.dir, "hot.list")
    with open(listing, "w") as f:
        f.write("\n".join(hot))
    throttle = Throttle(fs, bandwidth)
    rate = bandwidth * utilisation
    stream = os.path.join(fs.dir, "stream.out")
    scrub_kernel = ["btrfs", "scrub", "start", "-B", fs.mnt]
    scrub_duet = [duet, "scrub", "start", "--state-dir", state, fs.mnt]
    send_kernel = ["sh", "-c", f"btrfs send -q '{snapshot}' > '{stream}'"]
    send_duet = ["sh", "-c", f"'{duet}' send -q '{snapshot}' > '{stream}'"]
    configurations = {"foreground alone": [], "kernel scrub": [scrub_kernel], "duet scrub": [scrub_duet],
                      "kernel send": [send_kernel], "kernel send then scrub": [send_kernel, scrub_kernel]}
    if has_duet_send:
        configurations["duet send"] = [send_duet]
        configurations["duet send then duet scrub"] = [send_duet, scrub_duet]
    results = {}
    try:
        for name, steps in configurations.items():
            drop_caches()
            watch = Watch(duet, fs, state) if name.startswith("duet") else None
            if watch:
                watch.__enter__()
            before = fs.bytes_read()
            started = time.monotonic()
            foreground = subprocess.Popen(throttle.wrap([sys.executable, "-c", FOREGROUND, listing, str(rate), str(seed)]),
                                          stdout=subprocess.PIPE, text=True)
            maintenance_bytes_done_in_window = None
            step_results = []
            window_share = None
            for index, step in enumerate(steps):
                kind = ("duet" if step[0] == duet or duet in " ".join(step) else "kernel") + ("-scrub" if "scrub" in " ".join(step) else "-send")
                process = subprocess.Popen(throttle.wrap(["ionice", "-c3"] + step), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
                step_start = time.monotonic()
                while process.poll() is None:
                    if foreground.poll() is not None and window_share is None:
                        window_share = (index, maintenance_progress(kind, fs, state, stream))
                    time.sleep(0.2)
                final = maintenance_progress(kind, fs, state, stream)
                if window_share is not None and window_share[0] == index and final > 0:
                    window_share = (index, window_share[1] / final, True)
                step_results.append({"step": kind, "seconds": round(time.monotonic() - step_start, 3), "status": process.returncode})
            fg = json.loads(foreground.communicate()[0])
            total_bytes = fs.bytes_read() - before
            if watch:
                watch.__exit__(None, None, None)
            done_share = 1.0
            if steps and window_share is not None:
                index = window_share[0]
                within = window_share[1] if len(window_share) == 3 else 0
                done_share = (index + within) / len(steps)
            results[name] = {"maintenance_device_bytes": max(total_bytes - fg["bytes"], 0) if steps else 0,
                             "maintenance_seconds": round(sum(r["seconds"] for r in step_results), 3),
                             "work_done_in_window": round(done_share, 3), "steps": step_results, "foreground": fg}
            print(f"overlap {overlap} util {utilisation}: {name}: {results[name]['maintenance_device_bytes'] >> 20} MiB, "
                  f"{results[name]['maintenance_seconds']} s, {done_share:.0%} in window, fg {fg['throughput'] / 2**20:.0f} MiB/s", file=sys.stderr)
    finally:
        throttle.close()
    return {"overlap": overlap, "utilisation": utilisation, "bandwidth": bandwidth, "configurations": results}


PAGE_LOOP = r"""
import os, sys, time
path, seconds = sys.argv[1], float(sys.argv[2])
fd = os.open(path, os.O_RDONLY); size = os.fstat(fd).st_size; pages = 0; end = time.monotonic() + seconds
while time.monotonic() < end:
    offset = 0
    while offset < size:
        offset += len(os.pread(fd, 1 << 20, offset))
    os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED); pages += size // 4096
print(pages / seconds)
"""


def bench_watch(fs, duet, paths, state, seconds, rounds):
    """Foreground throughput with `duet watch` off and on, alternated."""
    big = fs.path("pagecache.bin")
    with open(big, "wb") as f:
        f.write(os.urandom(64 << 20))
    run(["btrfs", "-q", "filesystem", "sync", fs.mnt])
    # Disk-bound and through the page cache (so every read is an event): buffered random 4 KiB
    # reads without readahead over a file far larger than what the run can bring into memory.
    disk_file = fs.path("randread.bin")
    size = f"{max(256, int(fs.size_gib * 256))}m"  # a quarter of the file system: it must fit beside the data
    run(["fio", "--name=layout", f"--filename={disk_file}", f"--size={size}", "--rw=write", "--bs=1m", "--output=/dev/null"])
    fio_job = ["fio", "--name=disk", "--rw=randread", "--bs=4k", "--direct=0", "--invalidate=1", "--fadvise_hint=1",
               "--ioengine=psync", f"--filename={disk_file}", f"--size={size}", "--readonly", f"--runtime={seconds}",
               "--time_based", "--output-format=json"]
    results = {"page_cache_loop": {"off": [], "on": []}, "fio_randread": {"off": [], "on": []}}
    for _ in range(rounds):
        for mode in ("off", "on"):
            def measure():
                loop = float(run([sys.executable, "-c", PAGE_LOOP, big, str(seconds)]).stdout)
                fio = json.loads(run(fio_job).stdout)["jobs"][0]["read"]["iops"]
                results["page_cache_loop"][mode].append(loop)
                results["fio_randread"][mode].append(fio)
            drop_caches()
            if mode == "on":
                with Watch(duet, fs, state):
                    measure()
            else:
                measure()
    summary = {}
    for name, modes in results.items():
        off = sum(modes["off"]) / len(modes["off"])
        on = sum(modes["on"]) / len(modes["on"])
        summary[name] = {"off": round(off, 1), "on": round(on, 1), "slowdown_percent": round((1 - on / off) * 100, 2)}
    print(f"watch overhead: {summary}", file=sys.stderr)
    return {"samples": results, "summary": summary}


def machine():
    cpu = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name")), "?")
    memory = int(open("/proc/meminfo").readline().split()[1]) >> 20
    return f"{platform.node()}: Linux {platform.release()}, {os.cpu_count()} CPUs ({cpu}), {memory} GiB RAM"


def table(report):
    lines = [f"Measured on {report['machine']}, {report['date']}, file system {report['size_gib']} GiB "
             f"({report['files']} files of {report['file_size'] >> 20} MiB).", ""]
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
    for point in report.get("overlap", []):
        lines += [f"Overlap {point['overlap']:.0%}, foreground at {point['utilisation']:.0%} of a {point['bandwidth'] >> 20} MiB/s device:", "",
                  "| configuration | maintenance MiB read | vs stock | time s | work done in window | fg MiB/s | fg mean ms | fg p99 ms |",
                  "|---|---|---|---|---|---|---|---|"]
        configs = point["configurations"]
        stock = {"duet scrub": "kernel scrub", "duet send": "kernel send", "duet send then duet scrub": "kernel send then scrub"}
        for name, row in configs.items():
            fg = row["foreground"]
            base = configs.get(stock.get(name, ""), {}).get("maintenance_device_bytes")
            ratio = f"{row['maintenance_device_bytes'] / base:.2f}" if base else ""
            lines.append(f"| {name} | {row['maintenance_device_bytes'] / 2**20:.0f} | {ratio} | {row['maintenance_seconds']:.1f} | "
                         f"{row['work_done_in_window']:.0%} | {fg['throughput'] / 2**20:.1f} | {fg['latency_mean'] * 1000:.1f} | {fg['latency_p99'] * 1000:.1f} |")
        lines.append("")
    if "watch" in report:
        lines += ["| foreground | watch off | watch on | slowdown |", "|---|---|---|---|"]
        for name, row in report["watch"]["summary"].items():
            unit = "pages/s" if name == "page_cache_loop" else "IOPS"
            lines.append(f"| {name} | {row['off']:.0f} {unit} | {row['on']:.0f} {unit} | {row['slowdown_percent']:.2f}% |")
        lines.append("")
    return "\n".join(lines)


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
    return made


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duet", required=True, help="the duet binary")
    parser.add_argument("--quick", action="store_true", help="a small file system, one round: proves the harness works")
    parser.add_argument("--size", type=float, default=4.0, help="file system size in GiB (default 4)")
    parser.add_argument("--out", default="bench-out", help="output directory")
    parser.add_argument("--parts", default="scrub,send,pair,overlap,watch", help="comma-separated parts to run")
    parser.add_argument("--rounds", type=int, default=1, help="repetitions per point")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--bandwidth", type=float, default=50, help="device read bandwidth for the overlap part, MiB/s")
    parser.add_argument("--utilisation", default="0.5,0.9", help="foreground shares of the bandwidth (overlap part)")
    parser.add_argument("--overlaps", default="0.25,0.5,0.75,1", help="hot-set fractions (overlap part)")
    args = parser.parse_args()
    random.seed(args.seed)
    if args.quick:
        args.size = min(args.size, 1.0)
    parts = set(args.parts.split(","))
    os.makedirs(args.out, exist_ok=True)
    file_size = 1 << 20
    files = int(args.size * (1 << 30) * 0.45) // file_size
    help_text = subprocess.run([args.duet, "--help"], capture_output=True, text=True).stdout
    has_duet_send = any(line.strip().startswith("send ") for line in help_text.splitlines())
    report = {"version": 1, "machine": machine(), "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
              "size_gib": args.size, "files": files, "file_size": file_size, "duet_send": has_duet_send}
    fs = LoopBtrfs(args.size, os.environ.get("TMPDIR", "/var/tmp"))
    try:
        state = os.path.join(fs.dir, "state")
        paths = fill(fs, "live", files, file_size)
        snapshot = fs.path("live.snap")
        run(["btrfs", "-q", "subvolume", "snapshot", "-r", fs.path("live"), snapshot])
        run(["btrfs", "-q", "filesystem", "sync", fs.mnt])
        if "scrub" in parts:
            report["scrub"] = bench_scrub(fs, args.duet, paths, state, args.rounds)
        if "send" in parts:
            report["send"] = bench_send(fs, args.duet, paths, fs.path("live"), snapshot, has_duet_send, args.rounds)
        if "pair" in parts:
            report["pair"] = bench_pair(fs, args.duet, paths, snapshot, state, has_duet_send)
        if "overlap" in parts:
            overlaps = [0.5] if args.quick else [float(x) for x in args.overlaps.split(",")]
            utilisations = [0.5] if args.quick else [float(x) for x in args.utilisation.split(",")]
            report["overlap"] = [bench_overlap(fs, args.duet, paths, snapshot, state, overlap, utilisation,
                                               int(args.bandwidth * (1 << 20)), has_duet_send, args.seed)
                                 for utilisation in utilisations for overlap in overlaps]
        if "watch" in parts:
            report["watch"] = bench_watch(fs, args.duet, paths, state, 3 if args.quick else 10, 1 if args.quick else 3)
    finally:
        fs.close()
    with open(os.path.join(args.out, "results.json"), "w") as f:
        json.dump(report, f, indent=2)
    markdown = table(report)
    with open(os.path.join(args.out, "results.md"), "w") as f:
        f.write(markdown + "\n")
    report["plots"] = plot(report, args.out)
    print(markdown)
    for png in report["plots"]:
        print(f"plot: {png}")


if __name__ == "__main__":
    main()

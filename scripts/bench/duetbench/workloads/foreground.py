#!/usr/bin/env python3
# The foreground: a webserver-like process (the paper's webserver personality, rescaled) that
# reads whole files of the hot set, picked at random with replacement, at a fixed rate of device
# bytes per second (reads the page cache serves do not count) for `window` seconds; every tenth read it optionally appends 128 KiB to a log
# file. `uniform`: every hot file equally likely. `skewed`: the paper's table of 10 bins that
# each take 10% of the reads and cover 1, 2, 3, 4, 5, 6, 8, 11, 20 and 40% of the files, so
# 10% of the files take 40% of the reads. The machine's RAM is emulated as holding only the
# last `cache` seconds of foreground reads: each file read is dropped from the page cache
# (POSIX_FADV_DONTNEED) that long after its read, so a re-read goes to the device again, as on
# a machine whose data is far larger than its memory. `cache` must exceed duet watch's settle
# window (1.5 s): a page that leaves the cache inside it is not credited.
#
#   python3 foreground.py CONFIG_JSON   (listing, seed, distribution, rate, window, cache, log)
import collections, json, os, random, sys, time


def main():
    config = json.loads(sys.argv[1])
    paths = [line.strip() for line in open(config["listing"]) if line.strip()]
    rng = random.Random(config["seed"])
    order = paths[:]
    rng.shuffle(order)  # popularity order for skewed access
    if config["distribution"] == "skewed":
        bins, start = [], 0
        for share in (1, 2, 3, 4, 5, 6, 8, 11, 20, 40):
            count = max(1, round(len(order) * share / 100))
            bins.append(order[start:start + count] or order[-1:])
            start += count
        bins[-1] = order[sum(len(b) for b in bins[:-1]):] or bins[-1]
        pick = lambda: rng.choice(bins[rng.randrange(len(bins))])
    else:
        pick = lambda: rng.choice(order)
    rate, window, cache = config["rate"], config["window"], config["cache"]
    log = open(config["log"], "ab") if config.get("log") else None
    chunk = os.urandom(128 << 10)
    pending = collections.deque()
    def read_bytes():
        return int(dict(line.split(": ") for line in open("/proc/self/io").read().splitlines())["read_bytes"])
    startup_reads = read_bytes()  # the interpreter's own start-up reads (other devices) are not the workload's
    latencies = []; done = 0; reads = 0; appended = 0; seen = set()
    start = time.monotonic(); end = start + window
    device = 0  # bytes this process has had read from the device so far
    while True:
        # Paced by device bytes, so the rate is a device utilisation: a read the page cache serves
        # costs the device nothing (logical reads are capped at 4x the rate).
        due = start + max(device / rate, done / (4 * rate))
        now = time.monotonic()
        while pending and pending[0][0] <= now:
            _, path = pending.popleft()
            fd = os.open(path, os.O_RDONLY); os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED); os.close(fd)
        if due >= end:
            break
        if due > now:
            time.sleep(min(due - now, max(0.0, pending[0][0] - now) if pending else due - now))
            continue
        path = pick()
        t = time.monotonic()
        with open(path, "rb") as f:
            while True:
                data = f.read(1 << 20)
                if not data: break
                done += len(data)
        latencies.append(time.monotonic() - t)
        device = read_bytes() - startup_reads
        pending.append((time.monotonic() + cache, path))
        reads += 1; seen.add(path)
        if log and reads % 10 == 0:
            log.write(chunk); appended += len(chunk)
    if log: log.close()
    elapsed = time.monotonic() - start
    device_reads = read_bytes() - startup_reads
    latencies.sort()
    print(json.dumps({"seconds": round(elapsed, 3), "bytes": done, "reads": reads, "distinct_files": len(seen),
                      "hot_files": len(paths), "throughput": done / elapsed, "device_read_bytes": device_reads,
                      "appended_bytes": appended, "latency_mean": sum(latencies) / max(len(latencies), 1),
                      "latency_p99": latencies[max(int(len(latencies) * 0.99) - 1, 0)] if latencies else 0}))


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
# The watch part's page-cache-heavy loop: whole-file preads then POSIX_FADV_DONTNEED, an add and
# a remove event per page, for `seconds`; prints the pages per second and the seconds it took.
#
#   python3 page_loop.py PATH SECONDS
import os, sys, time


def main():
    path, seconds = sys.argv[1], float(sys.argv[2])
    fd = os.open(path, os.O_RDONLY); size = os.fstat(fd).st_size; pages = 0
    start = time.monotonic(); end = start + seconds
    while time.monotonic() < end:
        offset = 0
        while offset < size:
            offset += len(os.pread(fd, 1 << 20, offset))
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED); pages += size // 4096
    elapsed = time.monotonic() - start  # whole passes overrun `seconds`: divide by the time they took
    print(pages / elapsed, elapsed)


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Duet benchmarks: the command line of the duetbench package beside this file (scripts/bench/run
calls it; `--help` lists the parts and options)."""
from duetbench.cli import main

if __name__ == "__main__":
    main()

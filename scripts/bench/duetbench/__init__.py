"""The Duet benchmark harness (scripts/bench/run): stock btrfs maintenance against Duet's, on one
loop-backed btrfs, side by side in one run. `cli` parses the options and runs the parts;
`fixtures` makes and removes the file systems, `cgroups` the blkio throttle groups, `watcher`
runs `duet watch` beside a part; `workloads` holds the programs a part starts (real files, run
by the interpreter); `parts` one module per benchmark part; `report` writes the JSON and the
human tables, `plot` the PNG plots."""

import ArgumentParser

/// The file system a command works on, named by where it is mounted.
struct MountArgument: ParsableArguments {
    @Argument(help: "The mount point of a mounted btrfs file system.", completion: .directory)
    var mount: String
}

/// `--json` of a command whose whole output is either a text summary or one JSON document.
struct JSONFlag: ParsableArguments {
    @Flag(help: "Print JSON (a versioned envelope) instead of text.")
    var json = false
}

import ArgumentParser

@main
struct Duet: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "duet",
        abstract: "Opportunistic btrfs maintenance: scrub and send that reuse what the page cache already holds.",
        subcommands: []
    )
}

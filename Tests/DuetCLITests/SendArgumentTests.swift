import DuetSend
import Testing

@testable import duet

/// `duet send` must accept every spelling `btrfs send` (getopt_long, "vqec:f:i:p:") accepts, and
/// arrive at the same verbosity, because scripts pass their `btrfs send` arguments unchanged.
@Suite struct SendArgumentTests {
    @Test func joinedAndSeparateOptionValues() throws {
        let joined = try SendCommand.parse(["-fout", "-pparent", "-cone", "-c", "two", "snap"])
        #expect(joined.file == "out")
        #expect(joined.parents == ["parent"])
        #expect(joined.cloneSources == ["one", "two"])
        #expect(joined.snapshots == ["snap"])
        let separate = try SendCommand.parse(["-f", "out", "-p", "parent", "snap"])
        #expect(separate.file == "out" && separate.parents == ["parent"] && separate.snapshots == ["snap"])
    }

    /// getopt groups flags and lets the last one of a group take the next word as its value.
    @Test func groupedShortOptionsAndEqualsSign() throws {
        let grouped = try SendCommand.parse(["-vef", "out", "--proto=2", "snap"])
        #expect(grouped.log.verbosity == 2 && grouped.omitEndBetween && grouped.file == "out" && grouped.proto == 2)
        #expect(try SendCommand.parse(["-qe", "snap"]).log.verbosity == 0)
    }

    @Test func optionsAfterAndBetweenSnapshots() throws {
        let command = try SendCommand.parse(["a", "-e", "b", "-f", "out", "--proto", "2", "c", "-v"])
        #expect(command.snapshots == ["a", "b", "c"])
        #expect(command.omitEndBetween)
        #expect(command.file == "out")
        #expect(command.proto == 2)
        #expect(command.log.verbosity == 2)
    }

    @Test func longOptionsOfBtrfsSend() throws {
        let command = try SendCommand.parse(["--verbose", "--quiet", "--no-data", "--compressed-data", "--proto", "0", "snap"])
        #expect(command.noData && command.compressedData && command.proto == 0)
        #expect(command.log.verbosity == 0)
    }

    /// btrfs-progs: 1 by default, each -v adds one, -q sets 0, in command-line order.
    @Test(arguments: [
        ([String](), 1), (["-v"], 2), (["-vv"], 3), (["-v", "-v", "-v"], 4), (["--verbose", "-v"], 3),
        (["-q"], 0), (["--quiet"], 0), (["-q", "-v"], 1), (["-v", "-q"], 0), (["-vq"], 0), (["-qv"], 1),
        (["-q", "--verbose", "--verbose"], 2)
    ])
    func verbosityFollowsTheOrderOfVAndQ(arguments: [String], level: Int) throws {
        #expect(try SendCommand.parse(arguments + ["snap"]).log.verbosity == level)
    }

    @Test func jsonKeepsStandardErrorForItself() throws {
        #expect(try SendCommand.parse(["--json", "-v", "snap"]).log.verbosity == 0)
        #expect(try SendCommand.parse(["--stats", "snap"]).log.verbosity == 1)
    }

    @Test func theRemovedDashIIsParsedSoItCanBeRefusedAsBtrfsDoes() throws {
        #expect(try SendCommand.parse(["-i", "x", "snap"]).removedIncrementalOption == "x")
    }

    @Test func whichLinesEachLevelPrints() {
        #expect(!SendLog(verbosity: 0).prints(.standard))
        #expect(SendLog(verbosity: 1).prints(.standard) && !SendLog(verbosity: 1).prints(.info))
        #expect(SendLog(verbosity: 2).prints(.info) && !SendLog(verbosity: 3).prints(.debug))
        #expect(SendLog(verbosity: 4).prints(.debug))
    }

    /// btrfs send's protocol checks, against a kernel that sends v1 only and one that sends v2.
    @Test func protocolChecksGiveBtrfsSendsMessages() throws {
        #expect(try SendPreflight.checkProtocol(requested: nil, compressed: false, supported: 2) == 1)
        #expect(try SendPreflight.checkProtocol(requested: nil, compressed: true, supported: 2) == 2)
        #expect(try SendPreflight.checkProtocol(requested: 0, compressed: true, supported: 2) == 0)
        #expect(throws: SendRefusal("--compressed-data requires protocol version >= 2 (requested 1)")) {
            try SendPreflight.checkProtocol(requested: 1, compressed: true, supported: 2)
        }
        #expect(throws: SendRefusal("requested version 2 but kernel supports only 1")) {
            try SendPreflight.checkProtocol(requested: 2, compressed: false, supported: 1)
        }
        #expect(throws: SendRefusal("kernel does not support --compressed-data")) {
            try SendPreflight.checkProtocol(requested: 0, compressed: true, supported: 1)
        }
        #expect(throws: SendRefusal("protocol version number too big 4294967296")) {
            try SendPreflight.checkProtocol(requested: 1 << 32, compressed: false, supported: 2)
        }
    }
}

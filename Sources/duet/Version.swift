/// The one place the version is written: `duet --version`, the `--json` envelopes and the
/// Debian package (scripts/package asks the built binary) all read it from here.
enum DuetVersion {
    static let current = "0.1.0"
}

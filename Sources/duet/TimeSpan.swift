import ArgumentParser

/// A time as users type it (`90`, `30m`, `6h`, `7d`). Parsing never fails here: `validate()` of
/// the options that hold one refuses a value without `seconds`, in words that say what to type
/// rather than the parser's "invalid value".
struct TimeSpan: ExpressibleByArgument, Sendable {
    let text: String
    let seconds: UInt64?

    init(argument: String) {
        text = argument
        seconds = Units.seconds(argument)
    }
}

/// Starting the first source that starts. With `auto`, a source that fails to start (the kernel's
/// 64 Duet tasks in use, a probe the kernel refuses) gives way to the next, with a warning naming
/// both; the last candidate's failure is the error.
public enum SourceFallback {
    /// Calls `start` with each of `candidates` in order and returns the first result; warns about
    /// every failure but the last, which is rethrown.
    public static func start<Started>(
        _ candidates: [WatchSourceChoice], mount: String, warn: (String) -> Void,
        _ start: (WatchSourceChoice) throws -> Started
    ) throws -> Started {
        precondition(!candidates.isEmpty, "no event source to try")
        for (index, candidate) in candidates.dropLast().enumerated() {
            do {
                return try start(candidate)
            } catch {
                warn("\(mount): the \(candidate.rawValue) source did not start (\(error)); trying \(candidates[index + 1].rawValue)")
            }
        }
        return try start(candidates[candidates.count - 1])
    }
}

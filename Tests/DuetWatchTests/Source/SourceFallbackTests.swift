import DuetWatch
import Testing

/// `--source`: which sources are tried, in which order, and what is said when one does not start.
struct SourceFallbackTests {
    struct Refused: Error, CustomStringConvertible {
        var description: String { "refused" }
    }

    @Test("auto tries kernel, then bpf, then cachestat, leaving out what the machine lacks")
    func autoOrder() {
        #expect(WatchSourceChoice.auto.candidates(kernelSupported: true, bpfSupported: true) == [.kernel, .bpf, .cachestat])
        #expect(WatchSourceChoice.auto.candidates(kernelSupported: false, bpfSupported: true) == [.bpf, .cachestat])
        #expect(WatchSourceChoice.auto.candidates(kernelSupported: true, bpfSupported: false) == [.kernel, .cachestat])
        #expect(WatchSourceChoice.auto.candidates(kernelSupported: false, bpfSupported: false) == [.cachestat])
    }

    @Test("an explicit source is the only one tried, supported or not")
    func explicitSource() {
        for choice in [WatchSourceChoice.kernel, .bpf, .cachestat] {
            #expect(choice.candidates(kernelSupported: false, bpfSupported: false) == [choice])
            #expect(choice.candidates(kernelSupported: true, bpfSupported: true) == [choice])
        }
    }

    /// Runs the fallback over `candidates` where the sources in `failing` throw.
    static func fallback(_ candidates: [WatchSourceChoice], failing: Set<WatchSourceChoice>) -> (
        started: WatchSourceChoice?, tried: [WatchSourceChoice], warnings: [String], failed: Bool
    ) {
        var tried: [WatchSourceChoice] = []
        var warnings: [String] = []
        do {
            let started = try SourceFallback.start(candidates, mount: "/srv", warn: { warnings.append($0) }) { candidate in
                tried.append(candidate)
                if failing.contains(candidate) { throw Refused() }
                return candidate
            }
            return (started, tried, warnings, false)
        } catch {
            return (nil, tried, warnings, true)
        }
    }

    @Test("the first source that starts is used; each one that did not is warned about, naming the next")
    func fallsBack() {
        let all: [WatchSourceChoice] = [.kernel, .bpf, .cachestat]
        var result = Self.fallback(all, failing: [])
        #expect(result.started == .kernel && result.tried == [.kernel] && result.warnings.isEmpty)

        result = Self.fallback(all, failing: [.kernel])
        #expect(result.started == .bpf && result.tried == [.kernel, .bpf])
        #expect(result.warnings == ["/srv: the kernel source did not start (refused); trying bpf"])

        result = Self.fallback(all, failing: [.kernel, .bpf])
        #expect(result.started == .cachestat && result.tried == all)
        #expect(
            result.warnings == [
                "/srv: the kernel source did not start (refused); trying bpf",
                "/srv: the bpf source did not start (refused); trying cachestat"
            ])

        result = Self.fallback(all, failing: [.bpf])
        #expect(result.started == .kernel && result.tried == [.kernel] && result.warnings.isEmpty, "a later failure is never reached")
    }

    @Test("when the last source fails too, its error is the command's, with no warning for it")
    func lastFails() {
        var result = Self.fallback([.kernel, .bpf, .cachestat], failing: [.kernel, .bpf, .cachestat])
        #expect(result.failed && result.started == nil && result.tried == [.kernel, .bpf, .cachestat])
        #expect(result.warnings.count == 2)

        result = Self.fallback([.bpf], failing: [.bpf])
        #expect(result.failed && result.tried == [.bpf] && result.warnings.isEmpty, "an explicit source does not fall back")
    }

    @Test("only an explicit kernel source can be refused before starting")
    func unavailable() {
        #expect(WatchSourceChoice.auto.unavailableReason == nil)
        #expect(WatchSourceChoice.bpf.unavailableReason == nil)
        #expect(WatchSourceChoice.cachestat.unavailableReason == nil)
    }

    @Test("--source accepts exactly the four names")
    func names() {
        #expect(WatchSourceChoice.allCases.map(\.rawValue) == ["auto", "kernel", "bpf", "cachestat"])
    }
}

import DuetFS
import DuetScrub
import Foundation

/// Text output of the scrub commands, in the style of `btrfs scrub status`.
enum ScrubReporter {
    static func summary(_ record: ScrubRecord) -> String {
        let counters = record.counters
        var table = KeyValueTable()
        table.add("UUID", record.fsid)
        table.add("Scrub started", Self.date(record.startedAt))
        table.add("Status", record.status.rawValue)
        table.add("Duration", Self.duration(record.elapsed))
        table.add("Total to scrub", ByteCount.human(record.totalToScrub))
        table.add("Verified", "\(ByteCount.human(counters.verified)) (data \(ByteCount.human(counters.dataVerified)), tree blocks \(ByteCount.human(counters.treeVerified)))")
        if counters.parityKernelScrubbed > 0 { table.add("RAID5/6 verified by the kernel scrub", ByteCount.human(counters.parityKernelScrubbed)) }
        if counters.dataWithoutChecksum > 0 { table.add("Data without checksums", ByteCount.human(counters.dataWithoutChecksum)) }
        table.add("Verified by foreground reads (skipped)", ByteCount.human(counters.skippedVerified))
        if let ahead = record.verifiedAhead, ahead > 0, record.status != .finished {
            table.add("Verified ahead of the scrub (to skip)", ByteCount.human(ahead))
        }
        table.add("Read from devices", ByteCount.human(counters.deviceBytesRead))
        if let deferred = record.secondsDeferred { table.add("Waited for idle devices", Self.duration(deferred)) }
        let full = counters.deviceBytesRead + counters.skippedVerified
        let saved = full > 0 ? Double(counters.skippedVerified) / Double(full) * 100 : 0
        table.add("I/O saved vs a full scrub", String(format: "%.1f%%", saved))
        if record.elapsed > 0 { table.add("Rate", ByteCount.human(UInt64(Double(counters.deviceBytesRead) / record.elapsed)) + "/s") }
        table.add("Error summary", errorSummary(record))
        var lines = [table.render()]
        for finding in record.findings { lines.append("  " + finding.summary) }
        return lines.joined(separator: "\n")
    }

    static func errorSummary(_ record: ScrubRecord) -> String {
        let c = record.counters
        guard c.errors > 0 else { return "no errors found" }
        var parts: [String] = []
        if c.dataErrors > 0 { parts.append("csum=\(c.dataErrors)") }
        if c.treeErrors > 0 { parts.append("verify=\(c.treeErrors)") }
        if c.superblockErrors > 0 { parts.append("super=\(c.superblockErrors)") }
        if c.readErrors > 0 { parts.append("read=\(c.readErrors)") }
        var text = parts.joined(separator: " ")
        if let corrected = record.corrected, let uncorrectable = record.uncorrectable {
            text += "; corrected \(corrected), uncorrectable \(uncorrectable)"
        } else {
            text += "; not repaired (run with --repair)"
        }
        return text
    }

    static func exitStatus(_ record: ScrubRecord) -> ExitStatus {
        if record.status != .finished { return .interrupted }
        guard record.counters.errors > 0 else { return .clean }
        if let uncorrectable = record.uncorrectable, uncorrectable == 0 { return .correctedErrors }
        return .uncorrectableErrors
    }

    /// One progress line on a terminal, rewritten in place, with an ETA from the rate so far.
    static func progressPrinter() -> @Sendable (ScrubCounters, UInt64) -> Void {
        let start = Date()
        return { counters, total in
            let done = counters.verified + counters.skippedVerified
            let percent = total > 0 ? min(100, Double(done) / Double(total) * 100) : 0
            let elapsed = Date().timeIntervalSince(start)
            var eta = ""
            if done > 0, total > done, elapsed > 1 {
                eta = ", ETA " + duration(elapsed / Double(done) * Double(total - done))
            }
            let line = String(format: "\r\u{1B}[Kscrub: %.1f%% verified %@, skipped %@, read %@%@", percent,
                              ByteCount.human(counters.verified), ByteCount.human(counters.skippedVerified),
                              ByteCount.human(counters.deviceBytesRead), eta)
            FileHandle.standardError.write(Data(line.utf8))
        }
    }

    static func date(_ date: Date) -> String {
        let formatter = DateFormatter()
        formatter.dateFormat = "EEE MMM d HH:mm:ss yyyy"
        return formatter.string(from: date)
    }

    static func duration(_ seconds: Double) -> String {
        let total = Int(seconds.rounded())
        return String(format: "%d:%02d:%02d", total / 3600, total / 60 % 60, total % 60)
    }
}

/// Prometheus textfile metrics, replaced atomically so the collector never reads half a file.
enum ScrubMetrics {
    static func write(_ record: ScrubRecord, to directory: String) throws {
        let c = record.counters
        let label = "fsid=\"\(record.fsid)\""
        let rows: [(String, String, Double)] = [
            ("duet_scrub_verified_bytes", "Bytes verified by the last scrub.", Double(c.verified)),
            ("duet_scrub_skipped_bytes", "Bytes skipped because foreground reads verified them.", Double(c.skippedVerified)),
            ("duet_scrub_device_read_bytes", "Bytes the last scrub read from devices.", Double(c.deviceBytesRead)),
            ("duet_scrub_errors", "Errors found by the last scrub.", Double(c.errors)),
            ("duet_scrub_uncorrectable_errors", "Errors left after repair.", Double(record.uncorrectable ?? c.errors)),
            ("duet_scrub_duration_seconds", "Time the last scrub took.", record.elapsed),
            ("duet_scrub_deferred_seconds", "Time the last scrub's reads waited for idle devices (--idle; summed over devices).", record.secondsDeferred ?? 0),
            ("duet_scrub_finished", "1 if the last scrub finished, 0 if interrupted.", record.status == .finished ? 1 : 0),
            ("duet_scrub_last_timestamp_seconds", "When the last scrub started.", record.startedAt.timeIntervalSince1970),
        ]
        var text = ""
        for (name, help, value) in rows {
            text += "# HELP \(name) \(help)\n# TYPE \(name) gauge\n\(name){\(label)} \(value)\n"
        }
        try AtomicFile.write(Data(text.utf8), to: "\(directory)/duet_scrub_\(record.fsid).prom")
    }
}

/// Number parsing for `--limit` and `--period`.
enum Units {
    static func bytes(_ text: String) -> UInt64? {
        let units: [Character: UInt64] = ["K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40]
        var digits = text.uppercased()
        if digits.hasSuffix("/S") { digits.removeLast(2) }
        if digits.hasSuffix("B") { digits.removeLast() }
        if let last = digits.last, let unit = units[last] {
            return UInt64(digits.dropLast()).map { $0 * unit }
        }
        return UInt64(digits)
    }

    static func seconds(_ text: String) -> UInt64? {
        let units: [Character: UInt64] = ["s": 1, "m": 60, "h": 3600, "d": 86400]
        if let last = text.last, let unit = units[last] { return UInt64(text.dropLast()).map { $0 * unit } }
        return UInt64(text)
    }
}

/// Turns SIGINT/SIGTERM into a call, so a foreground scrub saves its progress and exits 5.
final class SignalTrap: @unchecked Sendable {
    private var sources: [DispatchSourceSignal] = []
    private let signals: [Int32]

    init(_ signals: [Int32], handler: @escaping @Sendable () -> Void) {
        self.signals = signals
        // A parent may hand down a mask that blocks these (test runners do): unblock them here.
        var set = sigset_t()
        sigemptyset(&set)
        for number in signals { sigaddset(&set, number) }
        pthread_sigmask(SIG_UNBLOCK, &set, nil)
        for number in signals {
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler(handler: handler)
            source.resume()
            sources.append(source)
        }
    }

    func release() {
        for source in sources { source.cancel() }
        for number in signals { signal(number, SIG_DFL) }
    }
}

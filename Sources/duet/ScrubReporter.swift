import DuetFS
import DuetScrub
import Foundation

/// Text output of the scrub commands, in the style of `btrfs scrub status`.
enum ScrubReporter {
    static func summary(_ record: ScrubRecord) -> String {
        let counters = record.counters
        var table = KeyValueTable()
        table.add("UUID", record.uuid)
        table.add("Scrub started", Self.date(record.startedAt))
        table.add("Status", record.status.rawValue)
        table.add("Duration", Self.duration(record.elapsedSeconds))
        if record.status == .running || record.status == .interrupted, let progress = progress(record) {
            table.add("Progress", progress)
        }
        table.add("Total to scrub", ByteCount.human(record.totalToScrubBytes))
        table.add(
            "Verified",
            "\(ByteCount.human(counters.verified)) (data \(ByteCount.human(counters.dataVerified)), tree blocks \(ByteCount.human(counters.treeVerified)))"
        )
        if counters.parityKernelScrubbed > 0 {
            table.add("RAID5/6 verified by the kernel scrub", ByteCount.human(counters.parityKernelScrubbed))
        }
        if counters.dataWithoutChecksum > 0 { table.add("Data without checksums", ByteCount.human(counters.dataWithoutChecksum)) }
        table.add("Verified by foreground reads (skipped)", ByteCount.human(counters.skippedVerified))
        if let ahead = record.verifiedAheadBytes, ahead > 0, record.status != .finished {
            table.add("Verified ahead of the scrub (to skip)", ByteCount.human(ahead))
        }
        table.add("Read from devices", ByteCount.human(counters.deviceBytesRead))
        if let deferred = record.deferredSeconds { table.add("Waited for idle devices", Self.duration(deferred)) }
        table.add("I/O saved vs a full scrub", String(format: "%.1f%%", ScrubProgress.ioSavedPercent(counters)))
        if let rate = ScrubProgress.readRate(record) { table.add("Rate", ByteCount.human(rate) + "/s") }
        table.add("Error summary", errorSummary(record))
        var lines = [table.render()]
        for gap in record.coverageGaps ?? [] { lines.append("  not covered: " + gap.summary) }
        for finding in record.findings { lines.append("  " + finding.summary) }
        return lines.joined(separator: "\n")
    }

    /// "42.0% done, about 0:12:30 left" from the last checkpoint (the time left only while running).
    static func progress(_ record: ScrubRecord) -> String? {
        guard let percent = ScrubProgress.percentDone(record) else { return nil }
        var text = String(format: "%.1f%% done", percent)
        if let left = ScrubProgress.remainingSeconds(record) { text += ", about " + duration(left) + " left" }
        return text
    }

    static func errorSummary(_ record: ScrubRecord) -> String {
        let c = record.counters
        if record.status == .incomplete {
            return "scrub incomplete: some planned data was neither verified nor skipped (see below); run `duet scrub start` again"
        }
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
        switch ScrubOutcome(record) {
        case .clean: .clean
        case .uncorrectableErrors: .uncorrectableErrors
        case .correctedErrors: .correctedErrors
        case .interrupted: .interrupted
        case .incomplete: .incomplete
        }
    }

    /// One progress line on a terminal, rewritten in place, with an ETA from the rate so far.
    static func progressPrinter() -> @Sendable (ScrubCounters, UInt64) -> Void {
        let start = Date()
        return { counters, total in
            let percent = ScrubProgress.percentDone(counters, of: total) ?? 0
            let left = ScrubProgress.remainingSeconds(counters, of: total, elapsed: Date().timeIntervalSince(start))
            let eta = left.map { ", ETA " + duration($0) } ?? ""
            let line = String(
                format: "\r\u{1B}[Kscrub: %.1f%% verified %@, skipped %@, read %@%@", percent,
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

/// `duet scrub start|resume|status --json`: the record as `scrub.json` holds it, and what a
/// script would otherwise compute from it (progress, time left, ages), in seconds.
struct ScrubResult: Encodable {
    let record: ScrubRecord
    let now: Date

    private enum Extra: String, CodingKey {
        case percentDone, remainingSeconds, ageSeconds, lastSuccessAgeSeconds
    }

    func encode(to encoder: Encoder) throws {
        try record.encode(to: encoder)
        // The same keyed container: these keys join the record's.
        var container = encoder.container(keyedBy: Extra.self)
        try container.encodeIfPresent(ScrubProgress.percentDone(record), forKey: .percentDone)
        try container.encodeIfPresent(ScrubProgress.remainingSeconds(record), forKey: .remainingSeconds)
        try container.encode(ScrubProgress.age(of: record.updatedAt, at: now), forKey: .ageSeconds)
        try container.encodeIfPresent(record.lastSuccessAt.map { ScrubProgress.age(of: $0, at: now) }, forKey: .lastSuccessAgeSeconds)
    }
}

/// Number parsing for `--limit`, `--in-flight`, `--read-size`, `--period` and `--deadline`: what
/// users type (`200M`, `100MiB`, `1.5G`, `200M/s`, `7d`), binary units as btrfs-progs reads them;
/// nil for anything else, including a value that does not fit in 64 bits.
enum Units {
    static func bytes(_ text: String) -> UInt64? {
        var body = text.trimmingCharacters(in: .whitespaces).uppercased()
        if body.hasSuffix("/S") { body.removeLast(2) }
        if body.hasSuffix("IB") { body.removeLast(2) } else if body.hasSuffix("B") { body.removeLast() }
        let shifts: [Character: Int] = ["K": 10, "M": 20, "G": 30, "T": 40, "P": 50, "E": 60]
        var shift = 0
        if let last = body.last, let unit = shifts[last] {
            shift = unit
            body.removeLast()
        }
        return scaled(body, by: Decimal(UInt64(1) << shift))
    }

    static func seconds(_ text: String) -> UInt64? {
        let units: [Character: UInt64] = ["s": 1, "m": 60, "h": 3600, "d": 86400]
        var body = text.trimmingCharacters(in: .whitespaces)
        var unit: UInt64 = 1
        if let last = body.last, let factor = units[last] {
            unit = factor
            body.removeLast()
        }
        return scaled(body, by: Decimal(unit))
    }

    /// `number × factor`, rounded down, for a plain decimal number (digits, at most one point).
    private static func scaled(_ number: String, by factor: Decimal) -> UInt64? {
        guard !number.isEmpty, number.allSatisfy({ $0.isASCII && ($0.isNumber || $0 == ".") }),
            number.filter({ $0 == "." }).count <= 1, number.contains(where: \.isNumber),
            let value = Decimal(string: number, locale: Locale(identifier: "en_US_POSIX"))
        else { return nil }
        var product = value * factor
        var whole = Decimal()
        NSDecimalRound(&whole, &product, 0, .down)
        guard whole <= Decimal(UInt64.max) else { return nil }
        return UInt64(whole.description)
    }
}

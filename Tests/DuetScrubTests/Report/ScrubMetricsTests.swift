import DuetScrub
import Foundation
import Testing

/// The Prometheus textfile: the names and labels dashboards and alerts are written against.
@Suite struct ScrubMetricsTests {
    @Test("each gauge has HELP and TYPE lines and the uuid label; a clean finish reads as such")
    func gauges() throws {
        var record = try ScrubOutcomeTests.record(.finished)
        record.lastSuccessAt = record.startedAt
        let lines = ScrubMetrics.render(record).split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        #expect(lines.count == 11 * 3 + 1 && lines.last == "", "eleven gauges, the file ending in a newline")
        #expect(
            Array(lines.prefix(3)) == [
                "# HELP duet_scrub_verified_bytes Bytes verified by the last scrub.",
                "# TYPE duet_scrub_verified_bytes gauge",
                #"duet_scrub_verified_bytes{uuid="u"} 350.0"#
            ])
        var values: [String: String] = [:]
        for line in lines where !line.isEmpty && !line.hasPrefix("#") {
            let parts = line.split(separator: " ")
            values[String(parts[0])] = String(parts[1])
        }
        #expect(values[#"duet_scrub_skipped_bytes{uuid="u"}"#] == "150.0")
        #expect(values[#"duet_scrub_errors{uuid="u"}"#] == "0.0")
        #expect(values[#"duet_scrub_deferred_seconds{uuid="u"}"#] == "0.0", "no --idle: nothing waited")
        #expect(values[#"duet_scrub_finished{uuid="u"}"#] == "1.0")
        #expect(values[#"duet_scrub_last_start_timestamp_seconds{uuid="u"}"#] == "1796119200.0")
        #expect(values[#"duet_scrub_last_success_timestamp_seconds{uuid="u"}"#] == "1796119200.0")
    }

    @Test("an interrupted scrub with errors: not finished, errors left, and 0 for a success never seen")
    func interruptedWithErrors() throws {
        let text = ScrubMetrics.render(try ScrubOutcomeTests.record(.interrupted, errors: 2))
        #expect(text.contains(#"duet_scrub_finished{uuid="u"} 0.0"#))
        #expect(text.contains(#"duet_scrub_errors{uuid="u"} 2.0"#))
        #expect(text.contains(#"duet_scrub_uncorrectable_errors{uuid="u"} 2.0"#), "not repaired: every error remains")
        #expect(text.contains(#"duet_scrub_last_success_timestamp_seconds{uuid="u"} 0.0"#))
    }
}

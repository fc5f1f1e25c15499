import DuetFS
import Foundation

/// Prometheus textfile metrics, replaced atomically so the collector never reads half a file.
public enum ScrubMetrics {
    /// The textfile's contents: one gauge per row, each with its HELP and TYPE lines.
    public static func render(_ record: ScrubRecord) -> String {
        let c = record.counters
        // `uuid`, as in every --json output; the file name carries it too.
        let label = "uuid=\"\(record.uuid)\""
        let rows: [(String, String, Double)] = [
            ("duet_scrub_verified_bytes", "Bytes verified by the last scrub.", Double(c.verified)),
            ("duet_scrub_skipped_bytes", "Bytes skipped because foreground reads verified them.", Double(c.skippedVerified)),
            ("duet_scrub_device_read_bytes", "Bytes the last scrub read from devices.", Double(c.deviceBytesRead)),
            ("duet_scrub_errors", "Errors found by the last scrub.", Double(c.errors)),
            ("duet_scrub_uncorrectable_errors", "Errors left after repair.", Double(record.remainingErrors)),
            (
                "duet_scrub_total_bytes", "Bytes a full scrub reads: used bytes of every block group times its copies.",
                Double(record.totalToScrubBytes)
            ),
            ("duet_scrub_elapsed_seconds", "Time the last scrub spent scrubbing, over all its runs.", record.elapsedSeconds),
            (
                "duet_scrub_deferred_seconds", "Time the last scrub's reads waited for idle devices (--idle; summed over devices).",
                record.deferredSeconds ?? 0
            ),
            ("duet_scrub_finished", "1 if the last scrub finished, 0 if interrupted or incomplete.", record.status == .finished ? 1 : 0),
            ("duet_scrub_last_start_timestamp_seconds", "When the last scrub started.", record.startedAt.timeIntervalSince1970),
            (
                "duet_scrub_last_success_timestamp_seconds", "When a scrub last finished with no errors (0: never).",
                record.lastSuccessAt?.timeIntervalSince1970 ?? 0
            )
        ]
        var text = ""
        for (name, help, value) in rows {
            text += "# HELP \(name) \(help)\n# TYPE \(name) gauge\n\(name){\(label)} \(value)\n"
        }
        return text
    }

    public static func write(_ record: ScrubRecord, to directory: String) throws {
        // 0644: the node exporter reads it as its own user.
        try AtomicFile.write(Data(render(record).utf8), to: "\(directory)/duet_scrub_\(record.uuid).prom", mode: 0o644)
    }

    /// Creates `directory` if its parent exists; otherwise a usage error at once.
    public static func prepare(_ directory: String) throws {
        var info = stat()
        if lstat(directory, &info) == 0 {
            guard info.st_mode & S_IFMT == S_IFDIR else {
                throw DuetError(.unsupported, "--metrics-dir \(directory): not a directory")
            }
        } else {
            let parent = (directory as NSString).deletingLastPathComponent
            guard mkdir(directory, 0o755) == 0 else {
                throw DuetError(
                    .unsupported,
                    "--metrics-dir \(directory): cannot create it (\(String(cString: strerror(errno))))\(parent.isEmpty ? "" : "; does \(parent) exist?")"
                )
            }
        }
        guard access(directory, W_OK) == 0 else { throw DuetError(.unsupported, "--metrics-dir \(directory): not writable") }
    }
}

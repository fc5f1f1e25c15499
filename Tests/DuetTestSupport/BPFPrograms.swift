import Foundation

/// Which BPF programs exist and who holds them, for the "nothing stays attached" checks. Other
/// processes on the machine (a benchmark, another `duet watch`) may hold programs named `duet_*`
/// too, so checks compare program ids a given process held, never names machine-wide.
public enum BPFPrograms {
    /// The program ids a process holds through BPF link or program file descriptors, read from
    /// `/proc/<pid>/fdinfo` (`prog_id:` lines).
    public static func held(by pid: String) -> Set<Int> {
        let directory = "/proc/\(pid)/fdinfo"
        var ids = Set<Int>()
        for entry in (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? [] {
            guard let text = try? String(contentsOfFile: directory + "/" + entry, encoding: .utf8) else { continue }
            for line in text.split(separator: "\n") where line.hasPrefix("prog_id:") {
                if let id = Int(line.dropFirst("prog_id:".count).trimmingCharacters(in: .whitespaces)) { ids.insert(id) }
            }
        }
        return ids
    }

    /// Loaded programs as `bpftool -j prog show` lists them: id → name.
    public static func loaded(bpftool: String = "bpftool") throws -> [Int: String] {
        let text = try Command.run([bpftool, "-j", "prog", "show"])
        guard let list = try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [[String: Any]] else {
            throw HarnessError("bpftool -j prog show printed no JSON list")
        }
        var programs: [Int: String] = [:]
        for program in list {
            if let id = program["id"] as? Int { programs[id] = program["name"] as? String ?? "" }
        }
        return programs
    }
}

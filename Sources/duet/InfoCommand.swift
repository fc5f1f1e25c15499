import ArgumentParser
import DuetFS

struct InfoCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "info",
        abstract: "Show a btrfs file system's identity, checksum, devices, profiles and subvolumes."
    )

    @Argument(help: "The mount point (or any directory) of a mounted btrfs file system.", completion: .directory)
    var mount: String

    @OptionGroup var output: JSONFlag

    func run() throws {
        try Terminal.requireRoot(for: "duet info")
        let fileSystem = try FileSystem(path: mount)
        let report = try FileSystemReport(fileSystem: fileSystem)
        if output.json {
            print(try JSONEnvelope(command: "info", result: report).render())
            return
        }
        var table = KeyValueTable()
        table.add("UUID", report.uuid)
        if report.metadataUUID != report.uuid { table.add("Metadata UUID", report.metadataUUID) }
        table.add("Checksum", "\(report.checksum) (\(report.checksumSizeBytes) bytes)")
        table.add("Generation", "\(report.generation)")
        table.add("Node size", "\(report.nodeSizeBytes)")
        table.add("Sector size", "\(report.sectorSizeBytes)")
        table.add("Devices", "\(report.devices.count)")
        for device in report.devices {
            table.add(
                "Device \(device.id)",
                "\(device.path), size \(ByteCount.human(device.sizeBytes)), used \(ByteCount.human(device.usedBytes))")
        }
        for allocation in report.allocations {
            table.add(
                allocation.type,
                "\(allocation.profile), used \(ByteCount.human(allocation.usedBytes)) of \(ByteCount.human(allocation.totalBytes))")
        }
        table.add("Subvolumes", "\(report.subvolumes.count)")
        for subvolume in report.subvolumes {
            var details = [subvolume.readOnly ? "read-only" : "read-write", "parent \(subvolume.parentID)"]
            if let origin = subvolume.parentUUID { details.append("snapshot of \(origin)") }
            table.add("Subvolume \(subvolume.id)", "\(subvolume.path) (\(details.joined(separator: ", ")))")
        }
        print(table.render())
    }
}

import DuetFS

/// `duet send --idle`: the file system's devices, watched for others' I/O before every disk
/// read. The send's own I/O is what this process had read from storage (its reads go through
/// the page cache, readahead included, so the block device's counters alone cannot tell them
/// from the foreground's).
public struct IdleWait: Sendable {
    public let devices: [String]
    /// `--deadline`: the send waits only while it can still finish by then. Shared by the
    /// snapshots of one send; what it projects is the disk reads of the snapshot being sent.
    public let deadline: IdleDeadline?
    private let monitor = IdleMonitor()

    public init(devices: [String], deadline: IdleDeadline? = nil) {
        self.devices = devices
        self.deadline = deadline
        _ = busy()  // opens the first measuring window now, so the first look before a read has a rate
    }

    /// Whether any of the devices serves others' I/O now.
    func busy() -> Bool {
        devices.contains { monitor.isBusy(device: $0, ownBytes: IdleMonitor.processReadBytes) }
    }
}

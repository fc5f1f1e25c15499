extension ScrubSession {
    /// `--repair` after `run`: hands the bad copies of a finished scrub to the kernel to rewrite,
    /// verifies them again, and saves the record with the result. Any other record is returned
    /// as it is.
    public func repair(_ record: ScrubRecord) throws -> ScrubRecord {
        guard record.hasFindingsToRepair else { return record }
        var repaired = record
        repaired.recordRepair(try Repairer(fileSystem: fileSystem).repair(record.findings))
        try store.save(repaired)
        return repaired
    }
}

import DuetFS

/// The verifying scrub (plan → skip → issue → verify → report). Not built yet: see the scrub issue.
public enum DuetScrubModule {}

import DuetFS

/// The out-of-order send (plan → select sources → emit). Not built yet: see the send issue.
public enum DuetSendModule {}

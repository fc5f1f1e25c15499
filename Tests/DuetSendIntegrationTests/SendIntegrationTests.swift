import DuetTestSupport
import Testing

/// Every `duet send` integration suite runs under this one, one test at a time: they drop
/// caches and count device reads, which concurrent tests would disturb.
@Suite(.enabled(if: IntegrationGate.enabled), .serialized)
enum SendIntegrationTests {}

"""The audit trail (audit.models.AuditEvent) and writing it (audit.recording), used by every app above it."""

"""Dataset audit: validate manifests and write a report a person can read (``python -m labeling audit``)."""

from .checks import CHECKS, SEVERITIES, AuditOptions, Finding, Section
from .run import AuditResult, run_audit

__all__ = ["CHECKS", "SEVERITIES", "AuditOptions", "AuditResult", "Finding", "Section", "run_audit"]

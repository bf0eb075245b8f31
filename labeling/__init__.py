"""Turn source claims into labels: taxonomy, resolution, splits, audits."""

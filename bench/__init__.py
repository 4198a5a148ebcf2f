"""Steward's benchmarks: ratios against a baseline measured in the same run
(see bench/README.md and /docs/performance.md)."""

"""Steward: facility monitoring and auto-ticketing for property management.

The pipeline is laid out as top-level packages: ``gateway`` (MQTT in) → ``rules`` (decisions)
→ ``tickets`` (store, SLA, lifecycle) → ``api`` (HTTP). This package holds what they share:
settings, the injected clock, the site configuration and the command line.
"""

__version__ = "0.1.0"

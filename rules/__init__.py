"""Rules: deterministic evaluators that turn readings and clock ticks into ``Decision``s."""

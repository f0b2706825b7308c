"""Scoring and alerting: pure NEWS2 numpy functions, alert rules, the real-time engine."""

"""Fault-injection tests (issue 11)."""

"""Automated schema compliance checking: no direct access to other services' tables, no hard-coded URLs."""

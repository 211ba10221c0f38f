"""Importable helpers for tests (also from verifier worker processes)."""

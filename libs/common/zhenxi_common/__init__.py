"""Zhenxi's shared library. Nothing domain-specific lives here (see CONVENTIONS.md)."""

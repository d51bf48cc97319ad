"""Integrations of the public client with other libraries (each behind its own optional extra)."""

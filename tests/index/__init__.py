"""Tests for the index package."""

"""Test helpers shared by the test modules (fake servers, fixtures' building blocks)."""

"""Assistants and their shares."""

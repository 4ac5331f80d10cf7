"""Signed blob URLs of the sqlite backend, served by app-api itself."""

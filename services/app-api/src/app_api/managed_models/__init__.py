"""The model catalogue: what callers may use, and its admin CRUD."""

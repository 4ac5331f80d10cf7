"""Spend quotas: administrators manage tiers, assignments and overrides; users read their own status."""

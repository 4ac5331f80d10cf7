"""`/admin/oauth-providers`: the third-party OAuth providers tools may require (none on this platform)."""

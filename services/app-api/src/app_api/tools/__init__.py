"""The tool catalogue: which tools each caller may use and has switched on, and its administration."""

"""`genjobs`: the command-line client of the genjobs API (local stack or deployed)."""

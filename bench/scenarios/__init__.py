"""One module per scenario; each `run(quick)` returns a JSON-able dict and runs in its own process."""

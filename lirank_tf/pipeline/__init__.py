"""End-to-end jobs (the demo)."""

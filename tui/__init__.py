"""The Textual terminal UI of bgassets (issue 5)."""

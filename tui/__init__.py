"""The Textual terminal UI of bgassets."""

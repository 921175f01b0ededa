"""Command-line entry points of bgassets."""

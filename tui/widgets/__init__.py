"""Widgets and cell renderings shared by the screens."""

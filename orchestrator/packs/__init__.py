"""Managed asset packs on the build side: which files a pack holds, and ``pack build``."""

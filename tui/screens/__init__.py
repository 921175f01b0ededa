"""One module per screen: Apps, Downloads (and its detail), Device, Events, Help."""

"""Small valid documents that the broken-manifest tests mutate line by line."""

APP = """\
apiVersion: bgassets/v1
kind: App
metadata:
  id: com.example.game
  team: EXAMPLE123
spec:
  version: "1.0"
  appGroup: group.com.example.game
  manifestURL: https://cdn.example.com/game/catalog.json
  size: 10MiB
  maxInstallSize: 1GiB
  essentialMaxInstallSize: 100MiB
  initialDownloadRestrictions:
    downloadAllowance: 200MiB
    essentialDownloadAllowance: 50MiB
    domainAllowList: ["cdn.example.com", "*.assets.example.com"]
  extension: extension.yaml
"""

EXTENSION = """\
apiVersion: bgassets/v1
kind: Extension
metadata:
  id: com.example.game.downloader
  app: com.example.game
  team: EXAMPLE123
spec:
  appGroup: group.com.example.game
  rules:
    - match: {id: "level-*"}
      essential: catalog
      priority: catalog
      destination: packs/{filename}
  onFailure:
    essential: reenqueue-nonessential
"""

DEVICE = """\
apiVersion: bgassets/v1
kind: Device
metadata:
  name: test
spec:
  lowPowerMode: false
  storage: {capacity: 64GiB, reserve: 1GiB}
  backgroundRefresh:
    apps:
      com.example.game: true
"""

CATALOG = """\
{
  "version": "1",
  "assets": [
    {"id": "level-1", "url": "levels/1.bin", "size": 1024, "essential": true},
    {"id": "level-2", "url": "https://cdn.example.com/2.bin", "size": "2MiB", "priority": 10}
  ]
}
"""

BASES = {"app.yaml": APP, "extension.yaml": EXTENSION, "device.yaml": DEVICE,
         "catalog.json": CATALOG}


def write_set(folder, changes=None):
    """Write the four valid documents into ``folder``, with ``changes`` {name: text or bytes}."""
    files = {**BASES, **(changes or {})}
    for name, content in files.items():
        path = folder / name
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")
    return folder

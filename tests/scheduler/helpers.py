"""Small builders for scheduler tests: an app like the WWDC example, catalogs, downloads."""

from orchestrator.model.app import App, InitialDownloadRestrictions
from orchestrator.model.catalog import Catalog, CatalogAsset
from orchestrator.model.download import Download

MiB = 2**20
GROUP = "group.com.example.wwdc-sessions"


def make_app(*, allowance=100 * MiB, essential_allowance=48 * MiB,
             allow=("127.0.0.1", "localhost")) -> App:
    return App(
        id="com.example.wwdc-sessions",
        team="EXAMPLE123",
        version="1.0",
        app_group=GROUP,
        manifest_url="http://127.0.0.1:8470/wwdc-sessions/catalog.json",
        size=30 * MiB,
        max_install_size=600 * MiB,
        essential_max_install_size=64 * MiB,
        restrictions=InitialDownloadRestrictions(allowance, essential_allowance, tuple(allow)),
    )


def asset(asset_id, size, *, essential=False, priority=50, host="127.0.0.1:8470", sha=None):
    return CatalogAsset(id=asset_id, url=f"http://{host}/wwdc-sessions/sessions/{asset_id}.mp4",
                        size=size, essential=essential, priority=priority, sha256=sha)


def catalog(*assets) -> Catalog:
    return Catalog(version="1", assets=tuple(assets))


def download(download_id, size=MiB, *, essential=False, priority=50,
             url=None, destination=None) -> Download:
    return Download(
        id=download_id,
        url=url or f"http://127.0.0.1:8470/{download_id}.bin",
        app_group=GROUP,
        essential=essential,
        size=size,
        priority=priority,
        destination=destination if destination is not None else f"{download_id}.bin",
    )

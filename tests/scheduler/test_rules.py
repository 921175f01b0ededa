"""The declarative extension turns a catalog into downloads as a typical downloader does."""

from orchestrator.model.catalog import CatalogAsset
from orchestrator.model.enums import ContentRequest
from orchestrator.model.extension import EssentialMode, Extension, Rule, RuleMatch
from orchestrator.scheduler.rules import (
    PresentFile,
    decide_downloads,
    destination_renderer,
    render_destination,
)
from tests.scheduler.helpers import GROUP, MiB, asset, catalog

SAMPLE = Extension(id="com.example.wwdc-sessions.downloader", app="com.example.wwdc-sessions",
                   team="EXAMPLE123", app_group=GROUP,
                   rules=(Rule(destination="sessions/{filename}"),))
CATALOG = catalog(asset("intro", 24 * MiB, essential=True, priority=100, sha="a" * 64),
                  asset("deep-dive", 64 * MiB, priority=30))


def test_install_keeps_catalog_essential_and_priority():
    downloads = decide_downloads(SAMPLE, CATALOG, ContentRequest.INSTALL)
    assert [(d.id, d.essential, d.priority, d.destination) for d in downloads] == [
        ("intro", True, 100, "sessions/intro.mp4"),
        ("deep-dive", False, 30, "sessions/deep-dive.mp4"),
    ]
    assert downloads[0].size == 24 * MiB and downloads[0].sha256 == "a" * 64


def test_periodic_never_asks_for_essential_downloads():
    downloads = decide_downloads(SAMPLE, CATALOG, ContentRequest.PERIODIC)
    assert not any(d.essential for d in downloads)


def test_present_and_unchanged_assets_are_skipped_but_changed_ones_are_not():
    present = {"sessions/intro.mp4": PresentFile(24 * MiB, "a" * 64),
               "sessions/deep-dive.mp4": PresentFile(1)}
    downloads = decide_downloads(SAMPLE, CATALOG, ContentRequest.PERIODIC, present)
    assert [d.id for d in downloads] == ["deep-dive"]
    changed = {"sessions/intro.mp4": PresentFile(24 * MiB, "b" * 64)}
    assert "intro" in [d.id for d in decide_downloads(SAMPLE, CATALOG, ContentRequest.UPDATE,
                                                       changed)]


def test_first_matching_rule_decides():
    extension = Extension(
        id="x.y", app="x", team="T", app_group=GROUP,
        rules=(
            Rule(match=RuleMatch(id="deep-*"), download=False),
            Rule(match=RuleMatch(essential=True), essential=EssentialMode.NEVER, priority=7,
                 destination="Library/Caches/{id}{ext}"),
        ),
    )
    downloads = decide_downloads(extension, CATALOG, ContentRequest.INSTALL)
    assert [(d.id, d.essential, d.priority, d.destination) for d in downloads] == [
        ("intro", False, 7, "Library/Caches/intro.mp4"),
    ]


def test_destination_template_uses_the_url_file_name():
    item = asset("a b", 1)
    assert render_destination("{id}/{filename}:{ext}", item) == "a b/a b.mp4:.mp4"


def test_a_template_read_once_renders_as_the_replacements_do():
    templates = ("sessions/{filename}", "{filename}", "fixed.bin", "{id}{ext}",
                 "a/{filename}/{ext}", "{filename}.{filename}", "{x}/{filename}", "{")
    urls = ("http://h/p/a.mp4", "http://h/p/a%20b.mp4?x=1", "http://h/p/{ext}.bin",
            "http://h/p/", "http://h/p/{id}", "http://h/p/noext#frag")
    for template in templates:
        render = destination_renderer(template)
        for url in urls:
            item = CatalogAsset(id="an-id", url=url, size=1)
            assert render(item) == render_destination(template, item), (template, url)
    assert destination_renderer("sessions/{filename}")(
        CatalogAsset(id="x", url="http://h/p/{ext}.bin", size=1)) == "sessions/.bin.bin"

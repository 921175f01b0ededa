"""Pack selectors and policies: globs as documented, and which events download a pack."""

from __future__ import annotations

import pytest

from orchestrator.model.pack import AssetPack, DownloadPolicy, InstallationEvent
from orchestrator.packs.selection import matches


@pytest.mark.parametrize(("pattern", "path", "expected"), [
    ("**/*.png", "a.png", True), ("**/*.png", "x/y/a.png", True), ("*.png", "x/a.png", False),
    ("drafts/**", "drafts/a/b.txt", True), ("drafts/**", "other/drafts/a", False),
    ("level-?.level", "level-1.level", True), ("level-?.level", "level-10.level", False),
    ("[!a]b", "cb", True), ("[!a]b", "ab", False), ("[ab]*", "b/c", False),
    ("a+b(1).txt", "a+b(1).txt", True),
])
def test_globs_match_as_documented(pattern, path, expected):
    assert matches(path, [pattern]) is expected


def test_policies_say_which_installation_events_download_a_pack():
    def pack(policy):
        return AssetPack.from_document({"metadata": {"id": "p"}, "spec": {
            "downloadPolicy": policy, "files": [{"directory": "."}]}})

    first = pack({"essential": {"installationEventTypes": ["firstInstallation"]}})
    assert first.policy is DownloadPolicy.ESSENTIAL
    assert first.applies_to(InstallationEvent.FIRST_INSTALLATION)
    assert not first.applies_to(InstallationEvent.SUBSEQUENT_UPDATE)
    both = pack({"prefetch": {"installationEventTypes": ["firstInstallation",
                                                         "subsequentUpdate"]}})
    assert all(both.applies_to(event) for event in InstallationEvent)
    on_demand = pack({"onDemand": {}})
    assert not any(on_demand.applies_to(event) for event in InstallationEvent)


def test_a_pack_for_other_platforms_never_comes_and_the_extension_has_the_last_word():
    from orchestrator.model.pack import BuiltPack, PackCatalog
    from orchestrator.scheduler.packs import packs_for_event

    def built(pack_id, policy, platforms=()):
        pack = AssetPack.from_document({"metadata": {"id": pack_id}, "spec": {
            "downloadPolicy": policy, "files": [{"directory": "."}],
            **({"platforms": list(platforms)} if platforms else {})}})
        return BuiltPack(pack, "v", (), ())

    first = {"prefetch": {"installationEventTypes": ["firstInstallation"]}}
    catalog = PackCatalog((built("all", first), built("mac", first, ["macos"]),
                           built("later", {"onDemand": {}}), built("no", first)))
    chosen = packs_for_event(catalog, InstallationEvent.FIRST_INSTALLATION,
                             lambda p: p.pack.id != "no", "linux")
    assert [p.pack.id for p in chosen] == ["all"]
    on_mac = packs_for_event(catalog, InstallationEvent.FIRST_INSTALLATION,
                             lambda p: True, "macos")
    assert [p.pack.id for p in on_mac] == ["all", "mac", "no"]

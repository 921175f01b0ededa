"""A pack catalog is a server's answer: what pack build writes reads back whole, and any
change to it either reads back consistently or is refused with the field named."""

from __future__ import annotations

import copy
import json
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from orchestrator.errors import ManifestError
from orchestrator.packs.catalog import read_pack_catalog
from tests.packs.conftest import build

URL = "https://cdn.example.com/game/packs.json"


@pytest.fixture
def built(project, tmp_path):
    return build(project, tmp_path / "out")


def test_what_pack_build_writes_reads_back_with_absolute_object_urls(built):
    catalog = read_pack_catalog(json.dumps(built).encode(), URL)
    assert [p.pack.id for p in catalog.packs] == ["levels", "textures", "tutorial"]
    assert all(f.object.startswith("https://cdn.example.com/game/objects/")
               for p in catalog.packs for f in p.files)
    levels = catalog.packs[0]
    assert len(levels.files) == 300 and levels.installed_size == built["packs"][0][
        "installedSize"]


@pytest.mark.parametrize(("change", "message"), [
    (lambda c: c.update(format=2), "format: expected 1, found 2"),
    (lambda c: c["packs"][0]["files"][3].update(path="../../etc/passwd"),
     "packs[0].files[3].path: '../../etc/passwd' is not a normalised relative path"),
    (lambda c: c["packs"][0]["files"][3].update(path="/abs"), "is not a normalised"),
    (lambda c: c["packs"][0]["files"][3].update(path="a\\b"), "is not a normalised"),
    (lambda c: c["packs"][0]["files"][4].update(path=c["packs"][0]["files"][3]["path"]),
     "packs[0].files[4].path:"),
    (lambda c: c["packs"][0]["files"][3].update(size=10**12), "do not fit its object"),
    (lambda c: c["packs"][0]["files"][4].update(
        path=c["packs"][0]["files"][3]["path"] + "/inside"), "is a file and a folder"),
    (lambda c: c["packs"][0]["files"][3].update(object="objects/zz/nothing"),
     "not among the pack's objects"),
    (lambda c: c["packs"][0]["files"][3].update(sha256="XYZ"), "64 lower-case hex digits"),
    (lambda c: c["packs"][0].update(installedSize=1), "packs[0].installedSize: 1 bytes"),
    (lambda c: c["packs"][1]["objects"][0].update(url="file:///etc/passwd"),
     "does not resolve to an http(s) URL"),
    (lambda c: c["packs"][2].update(id=c["packs"][0]["id"]), "packs[2].id: 'levels' is "
     "listed twice"),
    (lambda c: c["packs"][0].update(downloadPolicy={"sometimes": {}}), "unknown policy"),
])
def test_a_hostile_change_is_refused_naming_the_field(built, change, message):
    hostile = copy.deepcopy(built)
    change(hostile)
    with pytest.raises(ManifestError) as refused:
        read_pack_catalog(json.dumps(hostile).encode(), URL)
    assert message in str(refused.value)
    assert str(refused.value).startswith(URL + ": ")


@settings(max_examples=300, deadline=None)
@given(seed=st.integers(0, 2**32), cuts=st.integers(1, 5))
def test_random_mutations_never_raise_anything_but_manifest_error(seed, cuts):
    rng = random.Random(seed)
    files = [{"path": f"a/{i}", "size": 3, "sha256": "0" * 64, "object": "objects/x",
              "offset": 3 * i} for i in range(4)]
    document = {"format": 1, "packs": [{"id": "p", "version": "1", "downloadPolicy": {
        "onDemand": {}}, "downloadSize": 12, "installedSize": 12,
        "objects": [{"url": "objects/x", "size": 12, "sha256": "0" * 64}], "files": files}]}
    text = json.dumps(document).encode()
    data = bytearray(text)
    for _ in range(cuts):
        position = rng.randrange(len(data))
        data[position] = rng.choice(b'{}[]",:0123456789-.aeE\\/ ')
    try:
        catalog = read_pack_catalog(bytes(data), URL)
    except ManifestError:
        return
    for pack in catalog.packs:  # what reads back is consistent
        assert pack.installed_size == sum(f.size for f in pack.files)

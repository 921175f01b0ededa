"""load_app and load_device: the model from valid manifests, located ManifestErrors otherwise."""

import pytest

from orchestrator.errors import ErrorCode, ManifestError
from orchestrator.manifests import load_app, load_device
from tests.manifests.bases import APP, EXTENSION, write_set


def test_load_app_gives_the_app_and_its_extension(tmp_path):
    write_set(tmp_path)
    app, extension = load_app(tmp_path / "app.yaml")
    assert (app.id, app.size, app.restrictions.essential_download_allowance) == (
        "com.example.game", 10 * 2**20, 50 * 2**20)
    assert app.extension == str(tmp_path / "extension.yaml")
    assert extension.rules[0].destination == "packs/{filename}"


def test_load_app_lists_the_problems_of_both_files(tmp_path):
    write_set(tmp_path, {"app.yaml": APP.replace("size: 10MiB", "size: big"),
                         "extension.yaml": EXTENSION.replace("team: EXAMPLE123", "team: nope")})
    with pytest.raises(ManifestError) as caught:
        load_app(tmp_path / "app.yaml")
    assert caught.value.code == ErrorCode.MANIFEST_INVALID
    assert str(caught.value).splitlines() == [
        f"{tmp_path}/app.yaml:10:9: spec.size: 'big' is not a size: "
        "write an integer number of bytes or a string like 600MiB or 1.5GB",
        f"{tmp_path}/extension.yaml:6:9: metadata.team: 'nope' is not a team id "
        "(ten upper-case letters or digits, e.g. EXAMPLE123)",
    ]


def test_load_app_needs_an_extension(tmp_path):
    write_set(tmp_path, {"app.yaml": APP.replace("  extension: extension.yaml\n", "")})
    with pytest.raises(ManifestError, match=r"app.yaml:7:3: spec: missing required field "
                       r"'extension'$"):
        load_app(tmp_path / "app.yaml")


def test_load_device_refuses_another_kind(tmp_path):
    write_set(tmp_path)
    with pytest.raises(ManifestError, match=r"app.yaml:2:7: expected a Device document"):
        load_device(tmp_path / "app.yaml")


def test_load_device_of_a_missing_file_is_a_manifest_error(tmp_path):
    with pytest.raises(ManifestError, match="not a regular file"):
        load_device(tmp_path / "absent.yaml")

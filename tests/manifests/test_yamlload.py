"""Plain YAML scalars read as YAML 1.2's core schema reads them, as editors do.

The expected values are what the ``yaml`` package behind yaml-language-server
gives for the same text (YAML 1.2, its default), so an editor and validate see
one document.
"""

import math

import pytest

from orchestrator.errors import LocatedError, ManifestError
from orchestrator.manifests import load_app, load_catalog, validate_paths
from orchestrator.manifests.yamlload import load_yaml
from tests.manifests.bases import APP, DEVICE, write_set

AS_EDITORS_READ_THEM = [
    ("yes", "yes"), ("no", "no"), ("on", "on"), ("off", "off"), ("y", "y"), ("n", "n"),
    ("Yes", "Yes"), ("ON", "ON"), ("tRue", "tRue"),
    ("true", True), ("True", True), ("TRUE", True),
    ("false", False), ("False", False), ("FALSE", False),
    ("017", 17), ("0o17", 15), ("0x1F", 31), ("0X1F", "0X1F"), ("-0x1F", "-0x1F"),
    ("+12", 12), ("-7", -7), ("00", 0), ("1_000", "1_000"), ("0b101", "0b101"),
    ("1:30", "1:30"), ("0o8", "0o8"),
    ("1e3", 1000), ("1E-2", 0.01), (".5", 0.5), ("+.5", 0.5), ("1.", 1.0), ("1.0", 1.0),
    ("1.5e+3", 1500), ("2.5e0", 2.5), ("1e400", math.inf), ("-.inf", -math.inf), (".Inf", math.inf),
    ("~", None), ("null", None), ("Null", None), ("NULL", None), ("", None),
    ("2023-06-05", "2023-06-05"), ("12 kb", "12 kb"),
    ("'yes'", "yes"), ('"true"', "true"), ("! 123", "123"), ("!!str 12", "12"),
    ("!!int 017", 17), ("!!float 1", 1.0), ("!!null ~", None),
]


@pytest.mark.parametrize(("text", "expected"), AS_EDITORS_READ_THEM,
                         ids=[text or "empty" for text, _ in AS_EDITORS_READ_THEM])
def test_scalars_read_as_yaml_1_2_core(text, expected):
    value = load_yaml(f"a: {text}\n")[0]["a"]
    assert value == expected and type(value) is type(expected)


def test_a_size_written_with_an_exponent_is_bytes_to_validate_and_the_model(tmp_path):
    """Editors read 1e9 as an integer (JavaScript has one kind of number); so do we."""
    app = APP.replace("maxInstallSize: 1GiB", "maxInstallSize: 1e18")
    write_set(tmp_path, {"app.yaml": app})
    assert validate_paths([tmp_path]) == []
    assert load_app(tmp_path / "app.yaml")[0].max_install_size == 10**18
    data = b'{"version": "1", "assets": [{"id": "a", "url": "a", "size": 1.5e9}]}'
    assert load_catalog(data, "catalog.json").assets[0].size == 1_500_000_000


def test_nan_is_a_float():
    assert math.isnan(load_yaml("a: .NaN\n")[0]["a"])


def test_a_tag_that_does_not_fit_its_value_is_located():
    with pytest.raises(LocatedError) as caught:
        load_yaml("a: 1\nb: !!bool yes\n")
    assert (caught.value.line, caught.value.column) == (2, 4)
    assert caught.value.message == "'yes' is not a YAML 1.2 bool (the booleans are true and false)"


def test_yes_is_text_so_a_boolean_field_refuses_it(tmp_path):
    device = DEVICE.replace("lowPowerMode: false", "lowPowerMode: yes")
    problems = validate_paths([write_set(tmp_path, {"device.yaml": device})])
    assert [(p.file.removeprefix(f"{tmp_path}/"), p.line, p.column, p.message)
            for p in problems] == [
        ("device.yaml", 6, 17, "spec.lowPowerMode: 'yes' is not a boolean: write true or false "
         "(yes, no, on and off are text in YAML 1.2)")]


def test_essential_yes_in_a_yaml_catalog_is_a_located_error():
    text = ("version: '1'\n"
            "assets:\n"
            "  - id: tutorial\n"
            "    url: tutorial.bin\n"
            "    size: 1MiB\n"
            "    essential: yes\n")
    with pytest.raises(ManifestError) as caught:
        load_catalog(text.encode(), "catalog.yaml")
    assert str(caught.value) == ("catalog.yaml:6:16: assets[0].essential: 'yes' is not a boolean: "
                                 "write true or false (yes, no, on and off are text in YAML 1.2)")
    fixed = load_catalog(text.replace("yes", "True").encode(), "catalog.yaml")
    assert fixed.assets[0].essential is True

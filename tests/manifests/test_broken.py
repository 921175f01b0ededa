"""A table of broken manifests: each gives a located problem with the expected message.

Every case starts from the valid documents in ``bases`` and changes one thing;
the expectation pins both the exact FILE:LINE:COL and a fragment of the message.
"""

import time

import pytest

from orchestrator.manifests import validate_paths
from tests.manifests.bases import APP, CATALOG, DEVICE, EXTENSION, write_set

BASES = {
    "app.yaml": APP,
    "extension.yaml": EXTENSION,
    "device.yaml": DEVICE,
    "catalog.json": CATALOG,
}


def sub(name, old, new):
    """The base ``name`` with its first ``old`` replaced by ``new``."""
    assert old in BASES[name], (name, old)
    return {name: BASES[name].replace(old, new, 1)}


def case(name, changes, location, fragment):
    return pytest.param(changes, location, fragment, id=name)


# Nine anchors, each a list of nine aliases of the previous one: 9**9 leaves when expanded.
LAUGHS = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"{chr(98 + i)}: &{chr(98 + i)} [" + ", ".join([f"*{chr(97 + i)}"] * 9) + "]\n"
    for i in range(8)
)

CASES = [
    case(
        "duplicate-device-name",
        {"device2.yaml": DEVICE},
        "device2.yaml:4:9",
        "duplicate device name 'test', already used in",
    ),
    case(
        "size-not-a-size",
        sub("app.yaml", "downloadAllowance: 200MiB", "downloadAllowance: 12 parsecs"),
        "app.yaml:14:24",
        "'12 parsecs' is not a size: write an integer number of bytes or a string like 600MiB",
    ),
    case(
        "unknown-field",
        sub("app.yaml", "  extension:", "  extenion:"),
        "app.yaml:17:3",
        "unknown field 'extenion' (did you mean 'extension'?)",
    ),
    case(
        "missing-required",
        sub("app.yaml", "  manifestURL: https://cdn.example.com/game/catalog.json\n", ""),
        "app.yaml:7:3",
        "missing required field 'manifestURL'",
    ),
    case(
        "bad-team",
        sub("app.yaml", "team: EXAMPLE123", "team: example"),
        "app.yaml:5:9",
        "'example' is not a team id (ten upper-case letters or digits",
    ),
    case(
        "unquoted-version",
        sub("app.yaml", 'version: "1.0"', "version: 1.0"),
        "app.yaml:7:12",
        "1.0 is a number, expected text (quote it in YAML)",
    ),
    case(
        "bad-app-id",
        sub("app.yaml", "id: com.example.game", "id: game"),
        "app.yaml:4:7",
        "'game' is not a reverse-DNS id such as com.example.app",
    ),
    case(
        "bad-app-group",
        sub("app.yaml", "appGroup: group.com.example.game", "appGroup: com.example.game"),
        "app.yaml:8:13",
        "'com.example.game' is not an app group (use group. and a rev",
    ),
    case(
        "ftp-manifest-url",
        sub("app.yaml", "manifestURL: https", "manifestURL: ftp"),
        "app.yaml:9:16",
        "'ftp://cdn.example.com/game/catalog.json' is not an http(s) ",
    ),
    case(
        "extension-absolute",
        sub("app.yaml", "extension: extension.yaml", "extension: /etc/extension.yaml"),
        "app.yaml:17:14",
        "'/etc/extension.yaml' is not a relative path: write the extension manifest's path",
    ),
    case(
        "essential-enum",
        sub("extension.yaml", "essential: catalog", "essential: sometimes"),
        "extension.yaml:11:18",
        "'sometimes' is not one of catalog, always, never",
    ),
    case(
        "priority-range",
        sub("extension.yaml", "priority: catalog", "priority: 150"),
        "extension.yaml:12:17",
        "150 is above the maximum 100",
    ),
    case(
        "on-failure-enum",
        sub("extension.yaml", "essential: reenqueue-nonessential", "essential: retry"),
        "extension.yaml:15:16",
        "'retry' is not one of reenqueue-nonessential, fail",
    ),
    case(
        "handler-format",
        sub("extension.yaml", "  rules:", "  handler: not a handler\n  rules:"),
        "extension.yaml:9:12",
        "'not a handler' is not a handler (use module:Class, e.g. myp",
    ),
    case(
        "device-bool",
        sub("device.yaml", "lowPowerMode: false", "lowPowerMode: yes please"),
        "device.yaml:6:17",
        "'yes please' is not a boolean: write true or false (yes, no, on and off are text",
    ),
    case(
        "device-app-key",
        sub("device.yaml", "com.example.game: true", "not a bundle id: true"),
        "device.yaml:10:7",
        "'not a bundle id' is not a reverse-DNS id such as com.exampl",
    ),
    case(
        "device-name",
        sub("device.yaml", "name: test", "name: Low Power"),
        "device.yaml:4:9",
        "'Low Power' is not a profile name (lower-case words joined b",
    ),
    case(
        "catalog-priority",
        sub("catalog.json", '"priority": 10', '"priority": 101'),
        "catalog.json:5:91",
        "101 is above the maximum 100",
    ),
    case(
        "catalog-sha256",
        sub("catalog.json", '"essential": true', '"essential": true, "sha256": "abc"'),
        "catalog.json:4:89",
        "'abc' is not a SHA-256 (64 hex digits)",
    ),
    case(
        "catalog-file-url",
        sub("catalog.json", '"url": "levels/1.bin"', '"url": "file:///etc/passwd"'),
        "catalog.json:4:30",
        "'file:///etc/passwd' is not an http(s) URL or a path relativ",
    ),
    case(
        "catalog-unknown-field",
        sub("catalog.json", '"size": 1024', '"sizes": 1024'),
        "catalog.json:4:46",
        "unknown field 'sizes' (did you mean 'size'?)",
    ),
    case(
        "catalog-version-int",
        sub("catalog.json", '"version": "1"', '"version": 1'),
        "catalog.json:2:14",
        "1 is an integer, expected text (quote it in YAML)",
    ),
    case(
        "duplicate-key",
        sub("app.yaml", "  team: EXAMPLE123\n", "  team: EXAMPLE123\n  team: OTHER12345\n"),
        "app.yaml:6:3",
        "duplicate key 'team' (first defined at line 5, column 3); YA",
    ),
    case(
        "alias",
        sub("device.yaml", "storage: {capacity: 64GiB", "storage: &s {capacity: 64GiB"),
        "device.yaml:7:12",
        "anchors (&s) are not supported: write the value out",
    ),
    case(
        "billion-laughs",
        {"device.yaml": LAUGHS},
        "device.yaml:1:4",
        "anchors (&a) are not supported: write the value out",
    ),
    case(
        "tab-indent",
        sub("device.yaml", "  lowPowerMode", "\tlowPowerMode"),
        "device.yaml:6:1",
        "a tab cannot indent YAML: use spaces",
    ),
    case(
        "not-utf8",
        {
            "device.yaml": DEVICE.replace("name: test", "name: t\udcffst").encode(
                "utf-8", "surrogateescape"
            )
        },
        "device.yaml:4:10",
        "not UTF-8: byte 0xff at offset 56 (save the file as UTF-8)",
    ),
    case(
        "empty-file",
        {"device.yaml": ""},
        "device.yaml:1:1",
        "the file is empty: expected a mapping with apiVersion, kind,",
    ),
    case(
        "two-documents",
        {"device.yaml": DEVICE + "---\n" + DEVICE},
        "device.yaml:11:1",
        "only one document per file: split it at this '---' into two ",
    ),
    case(
        "top-level-list",
        {"device.yaml": "- apiVersion: bgassets/v1\n"},
        "device.yaml:1:1",
        "the top level is a list: expected a mapping with apiVersion,",
    ),
    case(
        "unknown-kind",
        sub("app.yaml", "kind: App", "kind: Ap"),
        "app.yaml:2:7",
        "unknown kind 'Ap' (did you mean 'App'?); expected App, Exten",
    ),
    case(
        "unknown-api-version",
        sub("device.yaml", "bgassets/v1", "bgassets/v2"),
        "device.yaml:1:13",
        "unknown apiVersion 'bgassets/v2'; expected bgassets/v1",
    ),
    case(
        "yaml-syntax",
        sub("device.yaml", "{capacity: 64GiB, reserve: 1GiB}", "{capacity: 64GiB, reserve: 1GiB"),
        "device.yaml:8:20",
        "YAML syntax: while parsing a flow mapping, did not find expe",
    ),
    case(
        "json-syntax",
        sub("catalog.json", '"size": 1024,', '"size": 1024,,'),
        "catalog.json:4:59",
        "JSON syntax: Expecting property name enclosed in double quot",
    ),
    case(
        "json-duplicate-key",
        sub("catalog.json", '"size": 1024', '"size": 1024, "size": 2048'),
        "catalog.json:4:60",
        "duplicate key 'size' (first defined at line 4, column 46); Y",
    ),
    case(
        "no-kind",
        {"device.yaml": "metadata:\n  name: x\n"},
        "device.yaml:1:1",
        "missing 'kind': expected App, Extension or Device (or versio",
    ),
    case(
        "nul-character",
        sub("device.yaml", "name: test", "name: te\x00st"),
        "device.yaml:4:11",
        "character U+0000 is not allowed in YAML",
    ),
    case(
        "extension-id-prefix",
        sub(
            "extension.yaml", "id: com.example.game.downloader", "id: com.example.other.downloader"
        ),
        "extension.yaml:4:7",
        "'com.example.other.downloader' must start with the app id fo",
    ),
    case(
        "extension-app",
        sub("extension.yaml", "app: com.example.game", "app: com.example.other"),
        "extension.yaml:5:8",
        "'com.example.other' differs from the app id 'com.example.gam",
    ),
    case(
        "extension-team",
        sub("extension.yaml", "team: EXAMPLE123", "team: OTHER12345"),
        "extension.yaml:6:9",
        "'OTHER12345' differs from the team 'EXAMPLE123' of the app t",
    ),
    case(
        "extension-app-group",
        sub(
            "extension.yaml",
            "appGroup: group.com.example.game",
            "appGroup: group.com.example.other",
        ),
        "extension.yaml:8:13",
        "'group.com.example.other' differs from the app group 'group.",
    ),
    case(
        "extension-missing",
        sub("app.yaml", "extension: extension.yaml", "extension: missing.yaml"),
        "app.yaml:17:14",
        "'missing.yaml' does not exist (looked for missing.yaml)",
    ),
    case(
        "duplicate-app-id",
        {"app2.yaml": APP},
        "app2.yaml:4:7",
        "duplicate app id 'com.example.game', already used in app.yam",
    ),
    case(
        "duplicate-asset-id",
        sub("catalog.json", '"id": "level-2"', '"id": "level-1"'),
        "catalog.json:5:12",
        "duplicate asset id 'level-1', already used by assets[0]",
    ),
    case(
        "host-not-allowed",
        sub("app.yaml", 'domainAllowList: ["cdn.example.com", ', "domainAllowList: ["),
        "app.yaml:9:16",
        "host 'cdn.example.com' is not in initialDownloadRestrictions",
    ),
    case(
        "allow-entry-url",
        sub("app.yaml", '"cdn.example.com",', '"cdn.example.com", "https://cdn.example.com/",'),
        "app.yaml:16:42",
        "'https://cdn.example.com/' is not a host: write a host name (cdn.example.com), an IP",
    ),
    case(
        "allow-entry-wildcard",
        sub("app.yaml", '"*.assets.example.com"', '"cdn.*.example.com"'),
        "app.yaml:16:42",
        "'cdn.*.example.com' is not a host: write a host name (cdn.example.com), an IP",
    ),
    case(
        "destination-absolute",
        sub("extension.yaml", "destination: packs/{filename}", "destination: /etc/{filename}"),
        "extension.yaml:13:20",
        "'/etc/{filename}' must be relative to the app group containe",
    ),
    case(
        "destination-dotdot",
        sub(
            "extension.yaml", "destination: packs/{filename}", "destination: packs/../../{filename}"
        ),
        "extension.yaml:13:20",
        "'packs/../../{filename}' must not contain '..': files stay i",
    ),
    case(
        "destination-placeholder",
        sub("extension.yaml", "destination: packs/{filename}", "destination: packs/{name}"),
        "extension.yaml:13:20",
        "unknown placeholder {name}: use {id}, {filename} or {ext}",
    ),
    case(
        "install-sizes",
        sub("app.yaml", "essentialMaxInstallSize: 100MiB", "essentialMaxInstallSize: 2GiB"),
        "app.yaml:12:28",
        "larger than spec.maxInstallSize, which includes it",
    ),
    case(
        "credentials-literal-password",
        sub("extension.yaml", "  onFailure:",
            "  credentials:\n    - host: cdn.example.com\n"
            "      basic: {user: alice, password: s3cret}\n  onFailure:"),
        "extension.yaml:16:28",
        "spec.credentials[0].basic: unknown field 'password' (did you mean 'passwordEnv'?)",
    ),
    case(
        "credentials-literal-token",
        sub("extension.yaml", "  onFailure:",
            "  credentials:\n    - {host: cdn.example.com, bearer: {token: abc}}\n"
            "  onFailure:"),
        "extension.yaml:15:40",
        "spec.credentials[0].bearer: unknown field 'token' (did you mean 'tokenEnv'?)",
    ),
    case(
        "credentials-two-forms",
        sub("extension.yaml", "  onFailure:",
            "  credentials:\n    - {host: cdn.example.com, netrc: true, "
            "bearer: {tokenEnv: T}}\n  onFailure:"),
        "extension.yaml:15:7",
        "spec.credentials[0]: give only one of basic, bearer, netrc",
    ),
    case(
        "credentials-half-a-pair",
        sub("extension.yaml", "  onFailure:",
            "  credentials:\n    - {host: cdn.example.com, basic: {usernameEnv: U, "
            "passwordFile: p}}\n  onFailure:"),
        "extension.yaml:15:38",
        "spec.credentials[0].basic: usernameEnv needs passwordEnv beside it",
    ),
    case(
        "credentials-host-with-scheme",
        sub("extension.yaml", "  onFailure:",
            "  credentials:\n    - {host: 'https://cdn.example.com', netrc: true}\n"
            "  onFailure:"),
        "extension.yaml:15:14",
        "is not a host (a host name, an IP literal or *.example.com; no scheme, port or path)",
    ),
]


def test_the_bases_are_valid(tmp_path):
    assert validate_paths([write_set(tmp_path)]) == []


@pytest.mark.parametrize(("changes", "location", "fragment"), CASES)
def test_broken_manifest_is_located(tmp_path, changes, location, fragment):
    problems = validate_paths([write_set(tmp_path, changes)])
    shown = [str(problem).replace(f"{tmp_path}/", "") for problem in problems]
    assert any(line.startswith(f"{location}: ") and fragment in line for line in shown), shown


def test_there_are_at_least_thirty_cases():
    assert len(CASES) >= 30


def test_billion_laughs_is_refused_fast(tmp_path):
    start = time.perf_counter()
    problems = validate_paths([write_set(tmp_path, {"device.yaml": LAUGHS})])
    assert time.perf_counter() - start < 1
    assert [p.line for p in problems if "anchors" in p.message] == [1]

"""`bgassets plan` without --catalog: a catalog that cannot be fetched is an error that
names the catalog's URL, not only a host and port.

Found by ``benchmarks/fuzz.py``: "error 1021 networkError: cannot connect to
127.0.0.1:8470: connection refused" did not say what was being fetched.
"""

import socket

from orchestrator.cli.main import main
from orchestrator.devserver.thread import serve_in_thread
from tests.manifests.bases import APP, EXTENSION

URL = "https://cdn.example.com/game/catalog.json"


def write_app(folder, url):
    (folder / "extension.yaml").write_text(EXTENSION)
    app = APP.replace(URL, url).replace('"cdn.example.com"', '"127.0.0.1"')
    (folder / "app.yaml").write_text(app)
    return folder / "app.yaml"


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_a_catalog_server_that_refuses_connections_is_named_by_its_url(tmp_path, capsys):
    url = f"http://127.0.0.1:{free_port()}/game/catalog.json"
    app = write_app(tmp_path, url)
    assert main(["plan", str(app), "--event", "install"]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"bgassets plan: error 1021 networkError: cannot fetch the catalog "
                          f"{url}: cannot connect to 127.0.0.1:"), err


def test_a_missing_catalog_keeps_its_message_which_names_the_url(tmp_path, capsys):
    (tmp_path / "content").mkdir()
    with serve_in_thread(tmp_path / "content") as server:
        url = f"{server.url}game/catalog.json"
        app = write_app(tmp_path, url)
        assert main(["plan", str(app), "--event", "install"]) == 1
    assert capsys.readouterr().err == f"bgassets plan: error 1020 httpError: HTTP 404 from {url}\n"

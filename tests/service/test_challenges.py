"""Authentication challenges on the catalog and the downloads, answered by the extension.

Against a real nginx with ``auth_basic`` and the dev server requiring a Bearer token;
answered from ``spec.credentials`` (variables, files, netrc) or by a handler process.
The app's delegate answering is in tests/control/test_app_challenges.py.
"""

from __future__ import annotations

import base64
import json
import textwrap

from aiohttp import web

from orchestrator.devserver import DevServer
from orchestrator.engine import Engine, RetryPolicy
from orchestrator.service import Orchestrator
from tests.engine.servers import serve
from tests.service.scenario import APP_ID, GROUP, Asset, KiB, Recorder, Scenario
from tests.support.nginx import nginx_server, read_access_log

ASSETS = [Asset("intro", 64 * KiB, essential=True), Asset("level1", 48 * KiB),
          Asset("level2", 32 * KiB)]
USER, PASSWORD, TOKEN = "alice", "pa55-w0rd-Secret", "t0ken-Secret-4c1d"
FAST = RetryPolicy(attempts=2, base_delay=0.01)


def protected_files(state, scene: Scenario) -> dict[str, bytes]:
    folder = state / "containers" / GROUP / "assets"
    return {a.id: (folder / f"{a.id}.bin").read_bytes() for a in scene.assets
            if (folder / f"{a.id}.bin").is_file()}


def no_secret_in(state, recorder: Recorder, *secrets: str) -> None:
    """Neither the journal (every file of the state dir) nor any event holds a secret."""
    events = json.dumps(list(recorder))
    for secret in secrets:
        assert secret not in events
        for path in state.rglob("*"):
            if path.is_file():
                assert secret.encode() not in path.read_bytes(), path


async def run_install(scene: Scenario, base_url: str, state, *, env=None, monkeypatch=None):
    manifest = scene.write_manifests(base_url)
    for name, value in (env or {}).items():
        monkeypatch.setenv(name, value)
    recorder = Recorder()
    async with Engine(retry=FAST) as engine, \
            Orchestrator(state, engine=engine) as orchestrator:
        orchestrator.events.subscribe(recorder)
        await orchestrator.install(manifest)
        await orchestrator.wait(APP_ID, "all", timeout=30)
    return recorder


def failed_codes(recorder: Recorder) -> dict[str, int]:
    return {e["download"]: e["code"] for e in recorder.named("download.failed")}


async def test_nginx_basic_auth_catalog_and_assets_answered_from_environment(
        tmp_path, monkeypatch):
    scene = Scenario(tmp_path, ASSETS, extension_spec=textwrap.dedent("""\
        credentials:
          - {host: other.example.com, bearer: {tokenEnv: NOT_THIS_ONE}}
          - {host: 127.0.0.1, basic: {usernameEnv: ASSETS_USER, passwordEnv: ASSETS_PASSWORD}}
        """))
    scene.write_content()
    log = tmp_path / "access.log"
    with nginx_server(scene.content, tmp_path / "nginx", access_log=log,
                      auth_basic=(USER, PASSWORD)) as base:
        recorder = await run_install(scene, base, tmp_path / "state", monkeypatch=monkeypatch,
                                     env={"ASSETS_USER": USER, "ASSETS_PASSWORD": PASSWORD})
    files = protected_files(tmp_path / "state", scene)
    assert files == {a.id: a.data() for a in ASSETS}
    assert failed_codes(recorder) == {}
    records = read_access_log(log)
    # One challenge for the catalog; every later request carried the answer at once.
    assert [r.status for r in records].count(401) == 1 and records[0].status == 401
    assert sorted(r.uri for r in records if r.status in (200, 206)) == sorted(
        ["/game/catalog.json", *(f"/game/{a.id}.bin" for a in ASSETS)]), records
    no_secret_in(tmp_path / "state", recorder, PASSWORD)


async def test_without_credentials_the_catalog_fails_with_1025(tmp_path, monkeypatch):
    scene = Scenario(tmp_path, ASSETS, extension_spec=textwrap.dedent("""\
        credentials:
          - {host: 127.0.0.1, basic: {usernameEnv: ASSETS_USER, passwordEnv: UNSET_VARIABLE}}
        """))
    scene.write_content()
    monkeypatch.delenv("UNSET_VARIABLE", raising=False)
    with nginx_server(scene.content, tmp_path / "nginx", auth_basic=(USER, PASSWORD)) as base:
        recorder = await run_install(scene, base, tmp_path / "state", monkeypatch=monkeypatch,
                                     env={"ASSETS_USER": USER})
    assert failed_codes(recorder) == {"@catalog": 1025}
    failure = recorder.named("download.failed")[0]
    assert failure["message"].endswith(
        "needs credentials: spec.credentials for 127.0.0.1 (environment variables ASSETS_USER "
        "and UNSET_VARIABLE): environment variable UNSET_VARIABLE is not set")
    assert protected_files(tmp_path / "state", scene) == {}


async def test_devserver_bearer_answered_from_a_token_file(tmp_path, monkeypatch):
    scene = Scenario(tmp_path, ASSETS, extension_spec=textwrap.dedent("""\
        credentials:
          - {host: 127.0.0.1, bearer: {tokenFile: secrets/token}}
        """))
    scene.write_content()
    secrets = tmp_path / "manifests" / "secrets"
    secrets.mkdir(parents=True)
    (secrets / "token").write_text(TOKEN + "\n")
    async with DevServer(scene.content, bearer_token=TOKEN) as server:
        recorder = await run_install(scene, server.url, tmp_path / "state",
                                     monkeypatch=monkeypatch)
        unauthorized = server.stats.status_counts[401]
    assert protected_files(tmp_path / "state", scene) == {a.id: a.data() for a in ASSETS}
    assert unauthorized == 1
    no_secret_in(tmp_path / "state", recorder, TOKEN)


async def test_netrc_answers_basic_and_a_wrong_password_fails_with_1025(tmp_path,
                                                                        monkeypatch):
    scene = Scenario(tmp_path, ASSETS, extension_spec=textwrap.dedent("""\
        credentials:
          - {host: 127.0.0.1, netrc: auth.netrc}
        """))
    scene.write_content()
    netrc = tmp_path / "manifests" / "auth.netrc"
    netrc.parent.mkdir(parents=True)
    with nginx_server(scene.content, tmp_path / "nginx", auth_basic=(USER, PASSWORD)) as base:
        netrc.write_text(f"machine 127.0.0.1 login {USER} password wrong\n")
        netrc.chmod(0o600)
        refused = await run_install(scene, base, tmp_path / "refused",
                                    monkeypatch=monkeypatch)
        netrc.write_text(f"machine 127.0.0.1 login {USER} password {PASSWORD}\n")
        accepted = await run_install(scene, base, tmp_path / "state", monkeypatch=monkeypatch)
    assert failed_codes(refused) == {"@catalog": 1025}
    assert "rejected the credentials" in refused.named("download.failed")[0]["message"]
    assert failed_codes(accepted) == {}
    assert protected_files(tmp_path / "state", scene) == {a.id: a.data() for a in ASSETS}


HANDLERS = f'''
from orchestrator.sdk import ChallengeDisposition, Credential, DownloaderExtension, read_catalog


class Downloader(DownloaderExtension):
    def downloads(self, request, manifest_path, info):
        catalog = read_catalog(manifest_path, self.catalog_url)
        return [self.download(a.id, a.url, size=a.size, sha256=a.sha256,
                              destination=f"assets/{{a.id}}.bin") for a in catalog.assets]

    def challenge(self, download, challenge):
        with open(self.container / "challenges.txt", "a") as notes:
            notes.write(f"{{download.id}} {{challenge.scheme}} {{challenge.realm}}\\n")
        if challenge.scheme == "bearer":
            return Credential.bearer("{TOKEN}")
        return ChallengeDisposition.CANCEL
'''


async def _with_handler(tmp_path, monkeypatch, server_url: str) -> Recorder:
    scene = Scenario(tmp_path, ASSETS, extension_spec="handler: handlers:Downloader\n")
    manifest = scene.write_manifests(server_url)
    (manifest.parent / "handlers.py").write_text(textwrap.dedent(HANDLERS))
    return await run_install(scene, server_url, tmp_path / "state", monkeypatch=monkeypatch)


async def test_a_handler_answers_the_catalogs_bearer_challenge(tmp_path, monkeypatch):
    scene = Scenario(tmp_path, ASSETS)
    scene.write_content()
    async with DevServer(scene.content, bearer_token=TOKEN) as server:
        recorder = await _with_handler(tmp_path, monkeypatch, server.url)
    container = tmp_path / "state" / "containers" / GROUP
    assert (container / "challenges.txt").read_text() == "@catalog bearer bgassets-serve\n"
    assert protected_files(tmp_path / "state", scene) == {a.id: a.data() for a in ASSETS}
    charged = [e for e in recorder.named("extension.terminated") if e.get("entry") == "challenge"]
    assert charged == []
    no_secret_in(tmp_path / "state", recorder, TOKEN)


async def test_a_handler_cancelling_the_challenge_fails_the_catalog(tmp_path, monkeypatch):
    scene = Scenario(tmp_path, ASSETS)
    scene.write_content()
    with nginx_server(scene.content, tmp_path / "nginx", auth_basic=(USER, PASSWORD)) as base:
        recorder = await _with_handler(tmp_path, monkeypatch, base)
    assert failed_codes(recorder) == {"@catalog": 1025}
    assert "cancelled" in recorder.named("download.failed")[0]["message"]


async def test_a_credential_never_reaches_a_second_origin_after_a_redirect(tmp_path,
                                                                           monkeypatch):
    """The catalog and one asset are on origin A behind Basic; the other assets redirect
    to origin B (the same host on another port), which must never see the credential."""
    scene = Scenario(tmp_path, ASSETS, extension_spec=textwrap.dedent("""\
        credentials:
          - {host: 127.0.0.1, basic: {usernameEnv: ASSETS_USER, passwordEnv: ASSETS_PASSWORD}}
        """))
    scene.write_content()
    expected = "Basic " + base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
    by_path = {f"/game/{a.id}.bin": a.data() for a in ASSETS}

    async def plain(request: web.Request) -> web.Response:
        return web.Response(body=by_path[request.path])

    async with serve(dict.fromkeys(by_path, plain)) as (other, other_seen):
        async def origin_a(request: web.Request) -> web.StreamResponse:
            if request.headers.get("Authorization") != expected:
                return web.Response(status=401,
                                    headers={"WWW-Authenticate": 'Basic realm="assets"'})
            if request.path == "/game/catalog.json":
                return web.FileResponse(scene.content / "game" / "catalog.json")
            if request.path == "/game/intro.bin":
                return web.Response(body=by_path[request.path])
            raise web.HTTPFound(other + request.path)

        routes = dict.fromkeys((*by_path, "/game/catalog.json"), origin_a)
        async with serve(routes) as (base, seen):
            await run_install(scene, base + "/", tmp_path / "state", monkeypatch=monkeypatch,
                              env={"ASSETS_USER": USER, "ASSETS_PASSWORD": PASSWORD})
    assert protected_files(tmp_path / "state", scene) == {a.id: a.data() for a in ASSETS}
    assert sorted(hop["path"] for hop in other_seen) == ["/game/level1.bin", "/game/level2.bin"]
    assert all("Authorization" not in hop for hop in other_seen)
    assert sum("Authorization" not in hop for hop in seen) == 1  # A challenged once

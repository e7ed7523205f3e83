"""The admin UI over plain HTTP: every page behind the login, the session cookie (HttpOnly,
SameSite=Strict, signed, expiring), CSRF tokens tied to the session, logout, and no secret on any page."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import aiohttp
import pytest

from lmgate.server.reload import RELOADER
from lmgate.ui import session as sessions
from tests.redis_server import RedisServer, redis_server_fixture, redis_session_fixture  # noqa: F401
from tests.servers import FakeOpenAIUpstream
from tests.ui_kit import MASTER, PAGES, UPSTREAM_KEY, UiGateway, ui_config, ui_gateway
from tests.wait import wait_for

FORMS = ("/ui/keys/create", "/ui/keys/block", "/ui/keys/unblock", "/ui/keys/update", "/ui/keys/delete",
         "/ui/config/reload", "/ui/logout")


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[UiGateway]:
    yield from ui_gateway(tmp_path_factory.mktemp("ui-http"))


@pytest.fixture
async def client(gateway: UiGateway) -> AsyncIterator[aiohttp.ClientSession]:
    jar = aiohttp.CookieJar(unsafe=True)  # cookies for 127.0.0.1
    async with aiohttp.ClientSession(gateway.url, cookie_jar=jar) as c:
        yield c


async def login(client: aiohttp.ClientSession, key: str = MASTER) -> aiohttp.ClientResponse:
    res = await client.post("/ui/login", data={"master_key": key, "next": "/ui/keys"}, allow_redirects=False)
    await res.read()
    return res


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found, "no CSRF token in the page"
    return found.group(1)


async def test_every_path_redirects_to_the_login_without_a_session(client: aiohttp.ClientSession) -> None:
    for path in ("/ui", "/ui/", *PAGES, "/ui/models/state", "/ui/no-such-page", "/ui/traffic?window=day"):
        res = await client.get(path, allow_redirects=False)
        assert res.status == 303, path
        assert res.headers["Location"].startswith("/ui/login?next="), path
    for path in FORMS:
        res = await client.post(path, data={"csrf": "x"}, allow_redirects=False)
        assert res.status == 303 and res.headers["Location"].startswith("/ui/login"), path
    page = await client.get("/ui/models")  # followed: the login form, in HTML
    assert page.status == 200 and "text/html" in page.headers["Content-Type"]
    assert 'name="master_key"' in await page.text()


async def test_a_wrong_master_key_is_refused_and_sets_no_cookie(client: aiohttp.ClientSession) -> None:
    res = await login(client, "sk-not-the-master-key")
    assert res.status == 401
    assert sessions.COOKIE not in res.cookies
    assert (await client.get("/ui/keys", allow_redirects=False)).status == 303


async def test_login_sets_a_strict_httponly_cookie_and_opens_every_page(client: aiohttp.ClientSession) -> None:
    res = await login(client)
    assert res.status == 303 and res.headers["Location"] == "/ui/keys"
    cookie = res.cookies[sessions.COOKIE]
    assert cookie["httponly"] and cookie["samesite"] == "Strict" and cookie["path"] == "/ui"
    assert int(cookie["max-age"]) == sessions.SESSION_S
    for path in PAGES:
        page = await client.get(path, allow_redirects=False)
        assert page.status == 200, path
        assert "default-src 'none'" in page.headers["Content-Security-Policy"]
        html = await page.text()
        for secret in (MASTER, UPSTREAM_KEY):
            assert secret not in html, f"{path} shows a secret"
        assert cookie.value not in html


async def test_the_cookie_of_another_master_key_is_refused(gateway: UiGateway) -> None:
    _, forged = sessions.issue(sessions.session_secret("sk-some-other-master-key"))
    async with aiohttp.ClientSession(gateway.url, cookies={sessions.COOKIE: forged}) as c:
        res = await c.get("/ui/models", allow_redirects=False)
        assert res.status == 303 and res.headers["Location"].startswith("/ui/login")


async def test_an_expired_session_goes_back_to_the_login(gateway: UiGateway) -> None:
    secret = sessions.session_secret(MASTER)
    _, expired = sessions.issue(secret, now=time.time() - sessions.SESSION_S - 1)
    _, fresh = sessions.issue(secret)
    tampered = fresh.rsplit(".", 2)[0] + f".{int(time.time()) + 10 * sessions.SESSION_S}." + fresh.rsplit(".", 1)[1]
    for value, status in ((expired, 303), (tampered, 303), (fresh, 200)):
        async with aiohttp.ClientSession(gateway.url, cookies={sessions.COOKIE: value}) as c:
            res = await c.get("/ui/models", allow_redirects=False)
            assert res.status == status, value


async def test_forms_need_the_csrf_token_of_their_own_session(gateway: UiGateway, client: aiohttp.ClientSession) -> None:
    await login(client)
    token = csrf_of(await (await client.get("/ui/keys")).text())
    for bad in ({}, {"csrf": "forged"}, {"csrf": sessions.Session("another-session", 0).csrf(sessions.session_secret(MASTER))}):
        res = await client.post("/ui/keys/create", data={"key_alias": "csrf-probe", **bad}, allow_redirects=False)
        assert res.status == 403, bad
        assert "reload it and try again" in await res.text()
    assert "csrf-probe" not in await (await client.get("/ui/keys")).text()  # nothing was created
    res = await client.post("/ui/keys/create", data={"key_alias": "csrf-ok", "csrf": token})
    html = await res.text()
    assert res.status == 200 and "csrf-ok" in html
    value = re.search(r'id="new-key" class="secret" readonly value="(sk-[^"]+)"', html)
    assert value, "the new key's value is shown once"
    assert value.group(1) not in await (await client.get("/ui/keys")).text()  # and never again


async def test_logout_ends_the_session_even_for_a_copied_cookie(gateway: UiGateway, client: aiohttp.ClientSession) -> None:
    res = await login(client)
    value = res.cookies[sessions.COOKIE].value
    token = csrf_of(await (await client.get("/ui/models")).text())
    out = await client.post("/ui/logout", data={"csrf": token}, allow_redirects=False)
    assert out.status == 303 and out.headers["Location"] == "/ui/login"
    assert out.cookies[sessions.COOKIE].value == ""  # deleted in the browser
    async with aiohttp.ClientSession(gateway.url, cookies={sessions.COOKIE: value}) as replay:
        res = await replay.get("/ui/models", allow_redirects=False)
        assert res.status == 303  # and refused by the server


async def test_login_never_sends_you_to_another_site(client: aiohttp.ClientSession) -> None:
    for target in ("https://evil.example/", "//evil.example/ui", "/v1/models"):
        res = await client.post("/ui/login", data={"master_key": MASTER, "next": target}, allow_redirects=False)
        assert res.headers["Location"] == "/ui/models", target


async def test_config_page_masks_secrets_and_reload_now_reports_its_result(gateway: UiGateway, client: aiohttp.ClientSession) -> None:
    await login(client)
    html = await (await client.get("/ui/config")).text()
    assert "No reload since this worker started" in html
    assert "masked" in html and "•••••• (hidden)" in html and "flaky-model" in html
    token = csrf_of(html)
    res = await client.post("/ui/config/reload", data={"csrf": token})
    page = await res.text()
    assert res.status == 200 and "Config reloaded." in page
    assert 'id="last-reload" data-ok="yes"' in page and "(web UI)" in page


async def test_without_a_master_key_the_ui_is_off(make_gateway) -> None:
    gw = make_gateway("model_list: [{model_name: m, litellm_params: {model: mock/echo}}]")
    async with aiohttp.ClientSession(gw.url) as c:
        res = await c.get("/ui/models", allow_redirects=False)
        assert res.status == 403 and "needs general_settings.master_key" in await res.text()


async def test_the_api_key_check_still_guards_everything_else(gateway: UiGateway, client: aiohttp.ClientSession) -> None:
    await login(client)  # a UI session is not an API key
    res = await client.get("/v1/models")
    assert res.status == 401


async def test_a_rejected_reload_is_shown_and_the_old_config_keeps_serving(tmp_path: Path, make_gateway, upstream: FakeOpenAIUpstream) -> None:
    path = tmp_path / "config.yaml"
    path.write_text(ui_config(tmp_path, upstream, upstream))
    gw = make_gateway(path)
    async with aiohttp.ClientSession(gw.url, cookie_jar=aiohttp.CookieJar(unsafe=True)) as c:
        await login(c)
        token = csrf_of(await (await c.get("/ui/config")).text())
        path.write_text(path.read_text().replace("model_list:", "model_list: 7\nbroken:"))
        page = await (await c.post("/ui/config/reload", data={"csrf": token})).text()
        assert 'id="last-reload" data-ok="no"' in page and "rejected, the previous config keeps serving" in page
        assert "flaky-model" in page  # still the loaded config


async def test_reload_now_reaches_every_replica_through_redis_and_any_replica_accepts_the_session(
    tmp_path: Path, make_gateway, upstream: FakeOpenAIUpstream, redis_server: RedisServer
) -> None:
    path = tmp_path / "config.yaml"
    path.write_text(ui_config(tmp_path, upstream, upstream, router=redis_server.router_settings))
    a, b = make_gateway(path), make_gateway(path)
    wait_for(lambda: all(g.app[RELOADER].listening for g in (a, b)), "both replicas to subscribe on Redis")
    async with aiohttp.ClientSession(a.url, cookie_jar=aiohttp.CookieJar(unsafe=True)) as c:
        cookie = (await login(c)).cookies[sessions.COOKIE].value
        token = csrf_of(await (await c.get("/ui/config")).text())
        res = await c.post("/ui/config/reload", data={"csrf": token})
        assert "Reload sent through Redis" in await res.text()
    async with aiohttp.ClientSession(b.url, cookies={sessions.COOKIE: cookie}) as other:

        async def reloaded_there() -> bool:
            page = await (await other.get("/ui/config", allow_redirects=False)).text()
            return "(web UI, via Redis)" in page and 'data-ok="yes"' in page

        deadline = time.monotonic() + 10
        while not await reloaded_there():
            assert time.monotonic() < deadline, "replica b never reloaded"
            await asyncio.sleep(0.05)


def test_reload_now_under_workers_reaches_every_worker_as_sighup(tmp_path: Path, upstream: FakeOpenAIUpstream) -> None:
    import httpx

    from tests.processes import serving

    path = tmp_path / "config.yaml"
    path.write_text(ui_config(tmp_path, upstream, upstream))
    with serving("--config", str(path), "--workers", "2") as url:
        cookie = httpx.post(url + "/ui/login", data={"master_key": MASTER}).cookies[sessions.COOKIE]
        signed_in = {"Cookie": f"{sessions.COOKIE}={cookie}"}
        with httpx.Client(base_url=url, headers=signed_in) as c:  # redirects by hand: httpx drops a Cookie header
            token = csrf_of(c.get("/ui/config").text)
            sent = c.post("/ui/config/reload", data={"csrf": token})
            assert sent.headers["Location"] == "/ui/config?done=sighup"
            assert "Reload sent to every worker (as SIGHUP)" in c.get(sent.headers["Location"]).text
        reloaded: set[str] = set()

        def both_workers_reloaded() -> bool:
            page = httpx.get(url + "/ui/config", headers=signed_in).text  # a new connection: either worker
            pid = re.search(r"this worker \(pid (\d+)\)", page)
            if pid and "(SIGHUP)" in page and 'data-ok="yes"' in page:
                reloaded.add(pid.group(1))
            return len(reloaded) == 2

        wait_for(both_workers_reloaded, "both workers to show the SIGHUP reload", seconds=20)


def test_the_ui_stays_off_the_model_endpoints_import_path() -> None:
    import subprocess
    import sys

    code = (
        "import sys, lmgate.server.app, lmgate.cli; "
        "print(','.join(m for m in ('jinja2', 'lmgate.ui.pages', 'lmgate.ui.data') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "", f"imported at start-up: {out.stdout}"


async def test_without_a_database_traffic_and_requests_say_the_log_is_jsonl_only(tmp_path: Path, make_gateway) -> None:
    gw = make_gateway(f"""
        model_list: [{{model_name: m, litellm_params: {{model: mock/echo}}}}]
        general_settings: {{master_key: {MASTER}, request_log_path: {tmp_path / "requests.jsonl"}}}
        """)
    async with aiohttp.ClientSession(gw.url, cookie_jar=aiohttp.CookieJar(unsafe=True)) as c:
        await login(c)
        for path in ("/ui/traffic", "/ui/requests"):
            html = await (await c.get(path)).text()
            assert "No database is configured" in html and "JSONL files only" in html, path
        keys = await (await c.get("/ui/keys")).text()
        assert "No keys yet" in keys and "logged spend is not shown" in keys


async def test_a_bad_key_form_is_answered_on_the_page_and_changes_nothing(client: aiohttp.ClientSession) -> None:
    await login(client)
    token = csrf_of(await (await client.get("/ui/keys")).text())
    for fields, message in (({"max_budget": "lots"}, "max_budget&#39; must be a number"), ({"duration": "forever"}, "must look like 30s")):
        res = await client.post("/ui/keys/create", data={"csrf": token, "key_alias": "bad-form", **fields})
        html = await res.text()
        assert res.status == 400 and 'id="keys-error"' in html and message in html, fields
        assert 'id="new-key"' not in html
    assert 'data-key="bad-form"' not in await (await client.get("/ui/keys")).text()


async def test_models_state_shows_over_quota(make_gateway) -> None:
    import httpx

    gw = make_gateway(f"""
        model_list:
          - model_name: tight
            litellm_params: {{model: mock/echo, rpm: 1}}
        general_settings: {{master_key: {MASTER}, request_log_path: false}}
        """)
    body = {"model": "tight", "messages": [{"role": "user", "content": "hi"}]}
    assert httpx.post(gw.url + "/v1/chat/completions", json=body, headers={"Authorization": f"Bearer {MASTER}"}).status_code == 200
    async with aiohttp.ClientSession(gw.url, cookie_jar=aiohttp.CookieJar(unsafe=True)) as c:
        await login(c)
        html = await (await c.get("/ui/models/state")).text()
        assert 'data-state="over_quota"' in html and "over quota (rpm 1/1)" in html
        assert "<html" not in html  # the fragment alone, for the in-place refresh


async def test_config_page_masks_every_kind_of_secret(make_gateway, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOME_PROVIDER_KEY", "provider-secret-from-env-321")
    hidden = {
        "from_env": "provider-secret-from-env-321",
        "aws": "AKIAVERYSECRETVALUE0000",
        "header": "Bearer hdr-secret-value-123",
        "env": "env-secret-value-456",
        "url_password": "urlpass789",
        "shaped": "sk-proj-abcdefghijklmnopqrstuvwxyz0123",
    }
    gw = make_gateway(f"""
        environment_variables: {{SOME_TOKEN_VALUE: {hidden["env"]}}}
        model_list:
          - model_name: m
            litellm_params:
              model: mock/echo
              aws_secret_access_key: {hidden["aws"]}
              extra_headers: {{Authorization: "{hidden["header"]}"}}
              note: "see {hidden["shaped"]}"
              api_key: os.environ/SOME_PROVIDER_KEY
        general_settings:
          master_key: {MASTER}
          request_log_path: false
          alert_webhook: "https://user:{hidden["url_password"]}@hooks.internal/x"
        """)
    async with aiohttp.ClientSession(gw.url, cookie_jar=aiohttp.CookieJar(unsafe=True)) as c:
        await login(c)
        html = await (await c.get("/ui/config")).text()
    for what, value in hidden.items():
        assert value not in html, what
    assert "hooks.internal" in html  # the rest of the URL is kept

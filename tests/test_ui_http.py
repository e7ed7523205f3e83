"""The admin UI over plain HTTP: every page behind the login, the session cookie (HttpOnly,
SameSite=Strict, signed, expiring), CSRF tokens tied to the session, logout, and no secret on any page."""

from __future__ import annotations

import re
import time
from collections.abc import AsyncIterator, Iterator

import aiohttp
import pytest

from lmgate.ui import session as sessions
from tests.ui_kit import MASTER, PAGES, UPSTREAM_KEY, UiGateway, ui_gateway

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

"""The admin UI in a real headless Chromium (Debian's package, driven by Playwright): log in, see the
test config's aliases and chain, watch a deployment cool down after its upstream fails (no reload),
create a key, use it with the openai SDK and see its spend, browse traffic, requests and config.
One browser for the module, a phone-width window; one screenshot per page under test-artifacts/ui/.
Skipped where Chromium is missing; with LMGATE_REQUIRE_CHROMIUM=1 (set by CI) that fails instead."""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import openai
import pytest

from tests.ui_kit import MASTER, UPSTREAM_KEY, UiGateway, ui_gateway
from tests.wait import wait_for

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts" / "ui"
PHONE = {"width": 390, "height": 844}
TIMEOUT_MS = 15_000

MISSING = "Chromium is not installed (apt-get install chromium; .ci/run installs it)"
if not Path(CHROMIUM).exists() and os.environ.get("LMGATE_REQUIRE_CHROMIUM"):  # CI: fail, never skip
    raise RuntimeError(MISSING)
pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(), reason=MISSING)
sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is in the test extra: pip install -e '.[test]'")


class Visits:
    """Every page the browser showed, for the checks that no secret and no outside request appeared."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.html: dict[str, str] = {}
        self.requests: list[str] = []
        self.secrets: list[str] = [MASTER, UPSTREAM_KEY]


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[UiGateway]:
    yield from ui_gateway(tmp_path_factory.mktemp("ui-browser"))


@pytest.fixture(scope="module")
def visits(gateway: UiGateway) -> Visits:
    return Visits(gateway.url)


@pytest.fixture(scope="module")
def page(gateway: UiGateway, visits: Visits) -> Iterator[Any]:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
        context = browser.new_context(viewport=PHONE, base_url=gateway.url)
        context.set_default_timeout(TIMEOUT_MS)
        tab = context.new_page()
        tab.on("request", lambda r: visits.requests.append(r.url))
        tab.on("dialog", lambda d: d.accept())  # "Revoke ...?" confirmations
        yield tab
        browser.close()


def seen(page: Any, visits: Visits, name: str) -> None:
    """Keep the page's HTML, screenshot it, and check it fits a phone's width."""
    visits.html[page.url] = page.content()
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)
    overflow = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
    assert overflow <= 1, f"{name} is wider than a phone screen by {overflow} px"


def client(gateway: UiGateway, key: str = MASTER) -> openai.OpenAI:
    return openai.OpenAI(base_url=gateway.url + "/v1", api_key=key, max_retries=0)


def test_login_then_the_models_page_shows_every_alias_and_its_chain(page: Any, gateway: UiGateway, visits: Visits) -> None:
    page.goto("/ui/models")
    assert "/ui/login" in page.url  # not signed in yet
    page.get_by_label("Master key").fill("sk-wrong-key-for-the-test")
    page.get_by_role("button", name="Sign in").click()
    sync_api.expect(page.locator("#login-error")).to_contain_text("not the master key")
    seen(page, visits, "login")
    page.get_by_label("Master key").fill(MASTER)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(re.compile(r"/ui/models$"))
    assert page.locator("section.alias").evaluate_all("els => els.map(e => e.dataset.alias)") == ["chat", "flaky"]
    chain = page.get_by_role("list", name="Fallback chain of flaky").locator("li")
    assert chain.all_inner_texts() == ["flaky", "chat"]
    for row in page.locator("tr.deployment").all():
        assert row.get_attribute("data-state") == "healthy"
    sync_api.expect(page.locator("#models-source")).to_contain_text("this worker (pid")
    seen(page, visits, "models")


def test_a_failing_upstream_turns_cooling_down_without_a_reload(page: Any, gateway: UiGateway, visits: Visits) -> None:
    page.goto("/ui/models")
    page.evaluate("window.__same_page = true")
    gateway.fail_flaky()
    answer = client(gateway).chat.completions.create(model="flaky", messages=[{"role": "user", "content": "hi"}])
    assert answer.choices[0].message.content == "hello from upstream"  # the chain fell back to chat
    row = page.locator('section[data-alias="flaky"] tr.deployment')
    sync_api.expect(row).to_have_attribute("data-state", "cooling_down")
    sync_api.expect(row.locator(".state")).to_contain_text(re.compile(r"cooling down, \d+ s left"))
    assert page.evaluate("window.__same_page") is True  # refreshed in place, not reloaded
    sync_api.expect(page.locator('section[data-alias="chat"] tr.deployment')).to_have_attribute("data-state", "healthy")
    seen(page, visits, "models-cooling")


def test_a_key_made_in_the_ui_works_with_the_sdk_and_its_spend_appears(page: Any, gateway: UiGateway, visits: Visits) -> None:
    page.goto("/ui/keys")
    page.get_by_label("Name (key alias)").fill("browser-key")
    # a budget above one reservation: no max_tokens, so each request reserves 4096 output tokens ($8.25)
    page.get_by_label("Budget (USD)").fill("50")
    page.get_by_label("Requests/min").fill("100")
    page.get_by_role("button", name="Create key").click()
    value = page.get_by_label("New key").input_value()
    assert value.startswith("sk-")
    seen(page, visits, "keys-created")
    visits.html.pop(page.url)  # the one page that shows a key's value, once, on purpose
    visits.secrets.append(value)
    for _ in range(2):
        out = client(gateway, value).chat.completions.create(model="chat", messages=[{"role": "user", "content": "hi"}])
        assert out.usage is not None and out.usage.total_tokens == 9

    def spend_shown() -> bool:
        page.goto("/ui/keys")
        return "$0.0260" in page.locator('li.key[data-key="browser-key"] .spend-logged').inner_text()

    wait_for(spend_shown, "the key's logged spend on the Keys page", seconds=10, interval=0.2)
    item = page.locator('li.key[data-key="browser-key"]')
    sync_api.expect(item.locator("meter")).to_have_attribute("max", "50.0")
    assert value not in page.content()  # shown once, never again
    seen(page, visits, "keys")

    item.get_by_role("button", name="Block").click()
    sync_api.expect(page.locator(".notice")).to_contain_text("Key blocked")
    with pytest.raises(openai.AuthenticationError, match="blocked"):
        client(gateway, value).chat.completions.create(model="chat", messages=[{"role": "user", "content": "hi"}])
    page.locator('li.key[data-key="browser-key"]').get_by_role("button", name="Unblock").click()
    sync_api.expect(page.locator(".notice")).to_contain_text("Key unblocked")
    client(gateway, value).chat.completions.create(model="chat", messages=[{"role": "user", "content": "hi"}])


def test_traffic_charts_and_the_request_log_with_route_traces(page: Any, gateway: UiGateway, visits: Visits) -> None:
    def logged() -> bool:  # the request log reaches the database in batches, a moment after each answer
        page.goto("/ui/traffic")
        return int(page.locator("#total-requests").inner_text()) >= 5

    wait_for(logged, "the earlier tests' five requests on the Traffic page", seconds=10, interval=0.2)
    sync_api.expect(page.locator("#traffic-source")).to_contain_text("database")
    bars = page.locator('figure.bars[data-group="alias"][data-metric="Requests"] svg.bar')
    assert "chat" in " ".join(bars.evaluate_all("els => els.map(e => e.getAttribute('aria-label'))"))
    assert page.locator('figure.bars[data-group="key"] svg.bar[aria-label^="browser-key"]').count() == 5
    seen(page, visits, "traffic")
    page.get_by_role("link", name="Last day").click()
    page.wait_for_url(re.compile(r"window=day"))
    assert page.locator("svg.chart rect").count() == 48

    page.goto("/ui/requests")
    fell_back = page.locator('li.request[data-alias="flaky"]').first
    attempts = fell_back.locator(".attempts li").all_inner_texts()
    assert len(attempts) == 2 and "500" in attempts[0] and attempts[1].split(":")[1].strip().startswith("ok"), attempts
    assert fell_back.locator("svg.route rect").count() == 2
    seen(page, visits, "requests")
    page.get_by_label("Key").fill("browser-key")
    page.get_by_role("button", name="Filter").click()
    page.wait_for_url(re.compile(r"key=browser-key"))
    statuses = page.locator("li.request").evaluate_all("els => els.map(e => e.dataset.status)")
    assert sorted(statuses) == ["200", "200", "200", "401"], statuses  # three answered, one blocked
    page.get_by_label("Status").fill("error")
    page.get_by_role("button", name="Filter").click()
    page.wait_for_url(re.compile(r"status=error"))
    assert page.locator("li.request").evaluate_all("els => els.map(e => e.dataset.status)") == ["401"]


def test_config_page_and_reload_now(page: Any, gateway: UiGateway, visits: Visits) -> None:
    page.goto("/ui/config")
    text = page.locator("#config-text").inner_text()
    assert "flaky-model" in text and "•••••• (hidden)" in text
    page.get_by_role("button", name="Reload now").click()
    sync_api.expect(page.locator("#last-reload")).to_have_attribute("data-ok", "yes")
    seen(page, visits, "config")


def test_revoke_then_sign_out(page: Any, gateway: UiGateway, visits: Visits) -> None:
    page.goto("/ui/keys")
    page.locator('li.key[data-key="browser-key"]').get_by_role("button", name="Revoke").click()
    sync_api.expect(page.locator(".notice")).to_contain_text("revoked")
    assert page.locator('li.key[data-key="browser-key"]').count() == 0
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url(re.compile(r"/ui/login"))
    page.goto("/ui/keys")
    assert "/ui/login" in page.url


def test_no_page_showed_a_secret_or_asked_another_host(visits: Visits) -> None:
    assert len(visits.html) >= 6
    for url, html in visits.html.items():
        for secret in visits.secrets:
            assert secret not in html, f"{url} shows a secret"
    outside = [u for u in visits.requests if not u.startswith(visits.base + "/")]
    assert not outside, outside

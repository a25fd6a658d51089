"""The web console in a real browser: Debian's Chromium, driven by Playwright, opens
`ocpp-chaos web`, sees a live session row and fires a fault with a key; the fault is
checked on the engine. So the key went through the browser, textual-serve, the console
process (which reached the API with the token it got through the environment) and the API.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest
from playwright.async_api import Page, Route, async_playwright

from tests.api.conftest import Running, until
from tests.web.conftest import (
    CHROMIUM_ARGS,
    SCREEN_JS,
    TAB_CLOSED_JS,
    WebProcess,
    group_members,
    hooked_textual_js,
    is_loopback_url,
    web_process,
)

BROWSER_PART_TIMEOUT = 60.0
"""The whole test once Chromium is there (the fixture may first install it)."""


async def screen_text(page: Page) -> str:
    text = await page.evaluate(SCREEN_JS)
    return text or ""


async def wait_for_screen(page: Page, needle: str, timeout: float, web: WebProcess) -> str:
    """The terminal's text once it shows `needle`. Fails with the last screen if it does
    not in time, and at once (with the command's output, where textual-serve copies the
    console's stderr) if the tab's console has ended."""
    text = ""
    try:
        async with asyncio.timeout(timeout):
            while needle not in (text := await screen_text(page)):
                if await page.evaluate(TAB_CLOSED_JS):
                    await asyncio.sleep(0.5)  # textual-serve writes the console's stderr
                    raise AssertionError(
                        f"the tab's console ended before showing {needle!r}; "
                        f"screen:\n{text.rstrip()}\nocpp-chaos web's output:\n{web.text()}"
                    )
                await asyncio.sleep(0.1)
    except TimeoutError:
        raise AssertionError(
            f"{needle!r} not on the web console's screen:\n{text.rstrip()}\n"
            f"ocpp-chaos web's output:\n{web.text()}"
        ) from None
    return text


def _signal_loss_on(running: Running, charger: str) -> bool:
    return any(
        fault["fault"].get("type") == "signal_loss" and charger in fault["chargers"]
        for fault in running.engine.active_faults()
    )


@pytest.mark.timeout(1800)  # installing Chromium, when missing, may take a while
async def test_web_console_shows_a_live_session_and_fires_signal_loss_with_a_key(
    chromium: str, running: Running, token_file: Path, api_token: str, tmp_path: Path
) -> None:
    started = time.monotonic()
    async with asyncio.timeout(BROWSER_PART_TIMEOUT):
        [charger] = await running.api.add_chargers(1, protocol="1.6")
        await until(lambda: running.engine.chargers[charger].booted, timeout=15)
        assert not _signal_loss_on(running, charger)

        async with (
            web_process(running.server.url, token_file, tmp_path) as web,
            async_playwright() as pw,
        ):
            browser = await pw.chromium.launch(
                executable_path=chromium, headless=True, args=CHROMIUM_ARGS
            )
            try:
                context = await browser.new_context(viewport={"width": 1400, "height": 900})
                script = hooked_textual_js()

                elsewhere: list[str] = []

                async def route(r: Route) -> None:
                    url = r.request.url
                    if not is_loopback_url(url):  # the page must ask nothing of the internet
                        elsewhere.append(url)
                        await r.abort()
                    elif url.split("?", 1)[0].endswith("/static/js/textual.js"):
                        await r.fulfill(body=script, content_type="application/javascript")
                    else:
                        await r.continue_()

                await context.route("**/*", route)
                page = await context.new_page()
                page.set_default_timeout(15_000)
                await page.goto(web.url)

                # A live session row: the console (a process of its own, started for
                # this tab) lists the charger's session.
                await wait_for_screen(page, charger, timeout=25, web=web)
                console = {
                    pid: cmd for pid, cmd in group_members(web.pgid).items() if " console " in cmd
                }
                assert console, f"no console process for the tab: {group_members(web.pgid)}"
                for cmd in group_members(web.pgid).values():
                    assert api_token not in cmd  # the token is never on a command line

                # The key: `l` on the highlighted session fires signal loss at its charger.
                await page.locator(".xterm-screen").click()
                await page.keyboard.press("l")
                try:
                    await until(lambda: _signal_loss_on(running, charger), timeout=10)
                except TimeoutError:
                    raise AssertionError(
                        "no signal_loss fault after `l`; faults: "
                        f"{running.engine.active_faults()}\nscreen:\n{await screen_text(page)}"
                    ) from None

                # SIGTERM stops the command cleanly, and the tab's console with it.
                assert await web.stop(timeout=10) == 0, web.text()
                await page.wait_for_function(TAB_CLOSED_JS, timeout=5_000)
                for pid in console:
                    assert pid not in group_members(web.pgid), "a console outlived `web`"
            finally:
                await browser.close()
        assert api_token not in web.text()  # nor in a log
        assert elsewhere == []  # no web font or anything else from the internet
    assert time.monotonic() - started < BROWSER_PART_TIMEOUT

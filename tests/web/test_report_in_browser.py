"""The HTML report as people open it: in a browser (Debian's Chromium, installed by the test
set-up), from a file, with no network. It renders without a script error, asks nothing of
the internet, shows the verdict and draws its charts."""

from __future__ import annotations

from pathlib import Path

from playwright.async_api import Route, async_playwright

from ocpp_chaos.scenarios.report import html_report
from tests.scenarios.test_report import all_results
from tests.web.conftest import CHROMIUM_ARGS


async def test_the_html_report_renders_in_chromium(chromium: str, tmp_path: Path) -> None:
    page_file = tmp_path / "report.html"
    page_file.write_text(html_report(all_results()))
    problems: list[str] = []
    elsewhere: list[str] = []
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(
            executable_path=chromium, headless=True, args=CHROMIUM_ARGS
        )
        try:
            page = await browser.new_page(viewport={"width": 1300, "height": 900})
            page.on("pageerror", lambda exc: problems.append(str(exc)))
            page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)

            async def route(r: Route) -> None:
                if r.request.url.startswith("file://"):
                    await r.continue_()
                else:
                    elsewhere.append(r.request.url)
                    await r.abort()

            await page.route("**/*", route)
            await page.goto(page_file.as_uri())
            text = await page.inner_text("body")
            charts = await page.locator("svg").count()
            widths = await page.evaluate(
                "() => [...document.querySelectorAll('svg')]"
                ".map(s => s.getBoundingClientRect().width)"
            )
        finally:
            await browser.close()
    assert problems == [] and elsewhere == [], (problems, elsewhere)
    for result in all_results():
        if result.name.isprintable():
            assert result.name in text
    assert "</script> -->" in text  # the nasty name is shown as text, not markup
    assert "passed" in text and "failed" in text
    assert charts >= 3 and all(w > 50 for w in widths)  # drawn, not collapsed

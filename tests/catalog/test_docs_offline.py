"""/docs and /redoc in headless Chromium with no network: the pages render from the API's own assets.

Saves test-artifacts/docs_offline.png and redoc_offline.png, whether the test passes or not.
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tests.api.online import NOW, USER_WATCH_STATS, OnlineWriter
from tests.api.test_server import start_api, stop_api
from tests.catalog import browser

pytestmark = pytest.mark.slow

# Every resource the page loaded, as the browser saw it.
REDOC_BADGE = "https://cdn.redoc.ly/redoc/logo-mini.svg"
RESOURCES = "return performance.getEntriesByType('resource').map(e => e.name)"


@pytest.fixture
def docs_api(redis_url: str) -> Iterator[str]:
    writer = OnlineWriter(redis_url)
    writer.publish()
    writer.write("user", 42, USER_WATCH_STATS, {"watch_count_30d": 12, "avg_minutes_30d": 3.5}, NOW)
    writer.close()
    process, base_url = start_api(redis_url, "--as-of", "2026-11-27T12:00:00Z")
    try:
        yield base_url
    finally:
        stop_api(process)


def test_the_pages_name_no_host_but_the_api(docs_api: str) -> None:
    for page in ("/docs", "/redoc"):
        html = httpx.get(f"{docs_api}{page}", timeout=5).text
        assert "cdn." not in html and "fonts.googleapis" not in html, page
        assert "/docs-assets/" in html, page


def test_swagger_ui_renders_the_operations_offline(docs_api, chromium, artifacts, tmp_path) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ready
    from selenium.webdriver.support.ui import WebDriverWait

    driver = browser.driver(chromium, tmp_path / "profile", offline=True)
    try:
        wait = WebDriverWait(driver, 30)
        driver.get(f"{docs_api}/docs")
        wait.until(ready.presence_of_element_located((By.CSS_SELECTOR, ".opblock-summary-path")))
        paths = {element.text.replace("\u200b", "") for element in
                 driver.find_elements(By.CSS_SELECTOR, ".opblock-summary-path")}
        assert {"/features/{entity}/{id}", "/context/{entity}/{id}", "/get-online-features"} <= paths

        # Open one operation: its description comes from the OpenAPI schema the page fetched.
        driver.find_element(By.CSS_SELECTOR, "#operations-context-get_context_context__entity___id__get").click()
        wait.until(ready.text_to_be_present_in_element((By.CSS_SELECTOR, ".opblock-body"), "context_template"))
        loaded = driver.execute_script(RESOURCES)
        assert loaded and all(url.startswith(docs_api) for url in loaded), loaded
    finally:
        driver.save_screenshot(str(artifacts / "docs_offline.png"))
        driver.quit()


def test_redoc_renders_offline(docs_api, chromium, artifacts, tmp_path) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ready
    from selenium.webdriver.support.ui import WebDriverWait

    driver = browser.driver(chromium, tmp_path / "profile", offline=True)
    try:
        wait = WebDriverWait(driver, 30)
        driver.get(f"{docs_api}/redoc")
        wait.until(ready.text_to_be_present_in_element((By.TAG_NAME, "body"), "An entity's features as prompt text"))
        assert "Online features in Feast's request and response shapes" in driver.find_element(By.TAG_NAME, "body").text
        # ReDoc's script has its "API docs by Redocly" badge image built in: the one outside request, which
        # fails offline and leaves the page as it is.
        loaded = [url for url in driver.execute_script(RESOURCES) if url != REDOC_BADGE]
        assert loaded and all(url.startswith(docs_api) for url in loaded), loaded
    finally:
        driver.save_screenshot(str(artifacts / "redoc_offline.png"))
        driver.quit()

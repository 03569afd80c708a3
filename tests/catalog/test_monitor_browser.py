"""A reader opens /monitor (linked from /catalog) in headless Chromium and sees every view's monitoring.

Saves test-artifacts/monitor.png, whether the test passes or not.
"""

from __future__ import annotations

from datetime import timedelta

import httpx
import pytest

from tests.catalog import browser
from tests.sync_cli import synced

pytestmark = pytest.mark.slow

VIEWS = ("user_last_genre", "user_segment", "user_watch_stats")


def test_the_monitor_page_shows_every_view_without_scripts(docs_project, catalog_api, redis_url, chromium,
                                                           artifacts, tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ready
    from selenium.webdriver.support.ui import WebDriverWait

    state = {"FEATURE_STORE_STATE_DIR": str(tmp_path / "state")}
    synced(docs_project, redis_url, **state)
    synced(docs_project, redis_url, as_of=docs_project.demo_now + timedelta(hours=2), **state)

    page = httpx.get(f"{catalog_api}/monitor", timeout=30)
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "<script" not in page.text.lower() and "http" not in page.text.split("<body>")[0].replace(
        "http://www.w3.org/2000/svg", "")

    driver = browser.driver(chromium, tmp_path / "profile")
    try:
        # The catalog's overview links to the page.
        driver.get(f"{catalog_api}/catalog")
        link = WebDriverWait(driver, 30).until(ready.element_to_be_clickable(
            (By.CSS_SELECTOR, "a[href='/monitor']")))
        link.click()
        WebDriverWait(driver, 30).until(ready.url_contains("/monitor"))
        headings = [h.text for h in driver.find_elements(By.TAG_NAME, "h2")]
        assert list(headings) == list(VIEWS)
        body = driver.find_element(By.TAG_NAME, "body").text
        for feature in ("watch_count_30d", "user_segment", "is_active_7d", "last_genre"):
            assert feature in body
        assert "model:recommender_training_set" in body and "sync:baseline" in body
        charts = driver.find_elements(By.CSS_SELECTOR, "svg")
        assert len(charts) >= 3 + 7  # a freshness chart per view, a histogram per feature
        # The freshness chart holds a bar for the two hours between the syncs (against 1h for user_watch_stats).
        section = driver.find_element(By.CSS_SELECTOR, "section#user_watch_stats svg")
        assert "2.0h since the sync before" in section.get_attribute("innerHTML")
        assert driver.execute_script("return document.scripts.length") == 0
    finally:
        driver.save_screenshot(str(artifacts / "monitor.png"))
        driver.quit()

"""A reader opens the API's /catalog in headless Chromium, searches a feature and finds its metadata.

Saves test-artifacts/catalog_watch_count_30d.png, whether the test passes or not.
"""

from __future__ import annotations

import pytest

from tests.catalog import browser

pytestmark = pytest.mark.slow

FEATURE = "watch_count_30d"
VIEW = "user_watch_stats"
DESCRIPTION = "Titles watched in the 30 days up to event_timestamp."


def test_search_finds_a_feature_with_its_description_and_metadata(catalog_api, chromium, artifacts, tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ready
    from selenium.webdriver.support.ui import WebDriverWait

    driver = browser.driver(chromium, tmp_path / "profile")
    screenshot = artifacts / f"catalog_{FEATURE}.png"
    try:
        wait = WebDriverWait(driver, 30)
        driver.get(f"{catalog_api}/catalog")
        search = wait.until(ready.element_to_be_clickable((By.ID, "search")))
        search.send_keys(FEATURE)

        # The search lists the feature view that holds the column; open it.
        result = wait.until(ready.element_to_be_clickable(
            (By.CSS_SELECTOR, f"div.search-result[href*='model.feature_store.{VIEW}']")))
        assert FEATURE in result.text
        result.click()
        wait.until(ready.url_contains(f"model.feature_store.{VIEW}"))
        wait.until(ready.text_to_be_present_in_element((By.TAG_NAME, "body"), DESCRIPTION))

        # The view's metadata, under Details.
        details = [
            (item.find_element(By.TAG_NAME, "dt").text.strip().lower(),
             item.find_element(By.TAG_NAME, "dd").text.strip())
            for item in driver.find_elements(By.CSS_SELECTOR, "dl.detail")
        ]
        for pair in (("entity", "user"), ("timestamp", "event_timestamp"), ("freshness", "1h"), ("ttl", "90d"),
                     ("owner", "growth"), ("contract", "Enforced")):
            assert pair in details, f"{pair} is not among the view's details: {details}"

        # The feature's row: its SQL type (its one type declaration: BIGINT, so int64) and description.
        row = driver.find_element(By.XPATH, f"//tr[contains(@class, 'column-row')][.//*[text()='{FEATURE}']]")
        assert "BIGINT" in row.text
        driver.execute_script("arguments[0].scrollIntoView({block: 'center'});", row)
        row.click()
        opened = wait.until(ready.visibility_of_element_located(
            (By.XPATH, f"//tr[contains(@class, 'column-row')][.//*[text()='{FEATURE}']]/following-sibling::tr[1]")))
        assert DESCRIPTION in opened.text, opened.text
        # For the screenshot: the view's details at the top, the opened feature below them.
        heading = driver.find_element(By.XPATH, f"//*[normalize-space(text())='{VIEW}']")
        driver.execute_script("arguments[0].scrollIntoView({block: 'start'});", heading)
        freshness = driver.find_element(By.XPATH, "//dl[contains(@class, 'detail')][dt[normalize-space()='freshness']]")
        driver.execute_script("arguments[0].scrollIntoView({block: 'nearest', inline: 'start'});", freshness)
    finally:
        driver.save_screenshot(str(screenshot))
        driver.quit()
    assert screenshot.stat().st_size > 10_000

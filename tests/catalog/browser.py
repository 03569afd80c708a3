"""Headless Chromium for the catalog's browser test: found, installed with apt, or a clear reason to skip.

The Debian packages `chromium` and `chromium-driver` are installed when missing
and the test runs as root with apt-get (as CI does on a clean machine). Set
FEATURE_STORE_NO_APT=1 to skip instead of installing.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

PACKAGES = ("chromium", "chromium-driver")
NO_APT_ENV = "FEATURE_STORE_NO_APT"
FLAGS = (
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--disable-dev-shm-usage", "--window-size=1400,2000",
)


@dataclass(frozen=True)
class Chromium:
    binary: str
    driver: str


def find() -> Chromium | None:
    binary = shutil.which("chromium") or shutil.which("chromium-browser")
    driver = shutil.which("chromedriver")
    return Chromium(binary, driver) if binary and driver else None


def ensure() -> Chromium | str:
    """Chromium and its driver, installing them with apt when missing; else why they cannot be had."""
    found = find()
    if found:
        return found
    if os.environ.get(NO_APT_ENV):
        return f"chromium/chromedriver are not installed and {NO_APT_ENV} is set: apt-get install {' '.join(PACKAGES)}"
    if shutil.which("apt-get") is None:
        return f"chromium/chromedriver are not installed and there is no apt-get to install {' '.join(PACKAGES)}"
    if os.geteuid() != 0:
        return (f"chromium/chromedriver are not installed and installing them needs root: "
                f"sudo apt-get install {' '.join(PACKAGES)}")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for command, timeout in ((["apt-get", "update"], 600),
                             (["apt-get", "install", "-y", *PACKAGES], 1200)):
        try:
            result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=timeout)
        except (OSError, subprocess.TimeoutExpired) as error:
            return f"`{' '.join(command)}` failed ({error}), so the browser test cannot run"
        if result.returncode != 0:
            tail = (result.stderr or result.stdout).strip().splitlines()[-3:]
            return f"`{' '.join(command)}` failed (exit {result.returncode}: {' / '.join(tail)})"
    return find() or f"apt-get installed {' '.join(PACKAGES)} but chromium or chromedriver is still not on PATH"


# No network but this machine: every other host name fails to resolve, as on an air-gapped cluster.
OFFLINE_FLAGS = ("--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1, EXCLUDE localhost",)


def driver(chromium: Chromium, profile: Path | None = None, offline: bool = False):
    """A Selenium WebDriver for headless Chromium with a fresh profile folder; `offline`: no network."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = chromium.binary
    for flag in FLAGS + (OFFLINE_FLAGS if offline else ()):
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={profile or tempfile.mkdtemp(prefix='chromium-profile-')}")
    return webdriver.Chrome(service=Service(chromium.driver), options=options)

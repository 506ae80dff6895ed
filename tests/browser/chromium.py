"""Debian's headless Chromium driven through its chromedriver (Selenium), stopped by PID.

Nothing is downloaded: the driver and the browser are the system's (`make install` puts
them there), and Selenium Manager is skipped because the driver's path is given. The driver
runs in a session of its own; at the end the driver, the browser and every child of theirs
are killed by PID, whatever state the browser was left in.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

import psutil
from selenium import webdriver
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
# Headless as root in a container: no sandbox, no GPU, no call home (updates, sync, QUIC).
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--window-size=1200,1000",
)


@contextlib.contextmanager
def chromium(work_dir: Path) -> Iterator[webdriver.Chrome]:
    """A headless Chromium with a fresh profile in `work_dir`; its driver's log there too."""
    options = Options()
    options.binary_location = str(CHROMIUM)
    for flag in (*FLAGS, f"--user-data-dir={work_dir / 'chromium-profile'}"):
        options.add_argument(flag)
    service = Service(
        executable_path=str(CHROMEDRIVER),
        log_output=str(work_dir / "chromedriver.log"),
        popen_kw={"start_new_session": True},
    )
    driver = webdriver.Chrome(service=service, options=options)
    driver_process = psutil.Process(service.process.pid)
    try:
        yield driver
    finally:
        tree = [driver_process, *driver_process.children(recursive=True)]
        with contextlib.suppress(Exception):
            driver.quit()
        for process in tree:
            with contextlib.suppress(psutil.NoSuchProcess):
                process.kill()
        psutil.wait_procs(tree, timeout=10)

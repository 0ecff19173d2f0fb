"""Screenshots of the browser tests: always under pytest's tmp_path; copied for a reviewer only when
asked.

`CTI_SCREENSHOTS_DIR=/some/folder make test` (or pytest) also copies each screenshot there as
`<prefix>-<name>`; without it nothing is written outside tmp_path. The variable never changes what a
test asserts.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from playwright.sync_api import Locator, Page


def keep_screenshot(target: Page | Locator, tmp_path: Path, name: str, *, prefix: str = "") -> Path:
    """Save a PNG of `target` (a whole page, or one element) as `tmp_path / name` and return it.

    Raises AssertionError when the file is not a PNG. Copies it to `$CTI_SCREENSHOTS_DIR/<prefix>-<name>`
    when that variable is set (a copy that fails is left out: the screenshot under tmp_path counts).
    """
    shot = tmp_path / name
    if isinstance(target, Page):
        target.screenshot(path=str(shot), full_page=True)
    else:
        target.screenshot(path=str(shot))
    assert shot.read_bytes().startswith(b"\x89PNG")
    folder = os.environ.get("CTI_SCREENSHOTS_DIR")
    if folder:
        try:
            Path(folder).mkdir(parents=True, exist_ok=True)
            shutil.copy(shot, Path(folder) / (f"{prefix}-{name}" if prefix else name))
        except OSError:
            pass
    return shot

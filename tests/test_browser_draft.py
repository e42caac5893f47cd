"""The draft you can play (notebook 08) driven in a real JupyterLab in headless Chromium.

Runs notebook 08 in fast mode up to the cell tagged ``draft-panel``, then drafts by clicking: a
card, the Follow button, another card. Each click must move the draft on by one pick, the picker
must show its top three each time, nothing may be cut at 1024 px, and nothing may raise in the
browser or the log console. Skips without Chromium and playwright, unless COURSE_REQUIRE_BROWSER=1.
"""

from __future__ import annotations

import re

from browser_lab import (
    REPO_ROOT,
    cut_elements,
    lab_session,
    panel,
    require_browser,
    text_of,
    wait_for_change,
    wait_for_status,
)

NOTEBOOK = REPO_ROOT / "notebooks" / "08_draft_pick_fine_tuning.ipynb"


def pick_number(state_text: str) -> int:
    found = re.search(r"Pack (\d+), pick (\d+)", state_text)
    assert found, f"the panel does not say which pick it is: {state_text!r}"
    return int(found[2])


def test_a_few_picks_made_by_clicking():
    require_browser()
    with lab_session(NOTEBOOK, upto_tag="draft-panel", name="draft-panel", run_timeout=420) as lab:
        failed = lab.cell_errors()
        assert not failed, "a cell of the notebook failed:\n" + "\n".join(failed)
        root = panel(lab.page, "course-draft")
        state, error = root.locator(".course-draft-state").first, root.locator(".course-error").first
        suggestions = root.locator(".course-draft-suggestions li")
        assert pick_number(text_of(state)) == 1
        assert suggestions.count() == 3, "the picker's top three are not shown"

        clicks = [lambda: root.locator(".course-draft-card").first.click(),
                  lambda: root.locator(".course-draft-follow").first.click(),
                  lambda: root.locator(".course-draft-card").last.click()]
        for expected, click in enumerate(clicks, start=2):
            before = text_of(state)
            lab.wait_for_kernel_work(click)
            assert pick_number(wait_for_change(state, before, error=error)) == expected
            wait_for_status(root)
            assert suggestions.count() == 3
        assert "took" in text_of(root.locator(".course-status").first)

        lab.screenshot(root, "draft-panel")
        cut = cut_elements(root)
        assert not cut, "elements of the panel are cut at 1024 px:\n" + "\n".join(cut)
        assert text_of(error) == "", f"the panel shows an error: {text_of(error)}"
        errors = lab.errors()
        assert not errors, "errors while the panel was used:\n" + "\n".join(errors)

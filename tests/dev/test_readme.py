"""The README a newcomer opens: the quick start comes first, and nothing in it leads out of
the repository (a clone has no ../shared, and the quick start works offline)."""

import re

from tests.helpers import ROOT

README = (ROOT / "README.md").read_text(encoding="utf-8")


def _sections() -> list[tuple[str, str]]:
    parts = re.split(r"^## (.+)$", README, flags=re.M)
    return list(zip(parts[1::2], parts[2::2], strict=True))


def test_the_quick_start_is_the_first_section():
    assert _sections()[0][0] == "Quick start"
    # Only the title and a short introduction come before it.
    assert len(README.split("## Quick start", 1)[0].split()) < 150


def test_the_quick_start_links_nothing_outside_the_repository():
    quick_start = dict(_sections())["Quick start"]
    urls = re.findall(r"https?://[^\s>)`]+", quick_start)
    assert [u for u in urls if not u.startswith("http://127.0.0.1")] == []
    assert "../" not in quick_start


def test_the_readme_points_to_no_file_outside_the_repository():
    assert "../" not in README
    for target in re.findall(r"\]\(([^)]+)\)", README):
        path = target.split("#", 1)[0]
        assert not re.match(r"[a-z]+:|/", path), target
        assert not path or (ROOT / path).exists(), target

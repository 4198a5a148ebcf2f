from pathlib import Path

from rules.catalogue import render


def test_docs_rule_catalogue_matches_the_code() -> None:
    docs = Path(__file__).parents[2] / "docs" / "rules.md"
    assert docs.read_text(encoding="utf-8") == render(), (
        "docs/rules.md is stale: run `python -m rules.catalogue > docs/rules.md`"
    )

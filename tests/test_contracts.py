"""docs/CONTRACTS.md says what spaces/meta.yaml holds: every parameter, in its group of axes."""

from __future__ import annotations

import re
from pathlib import Path

from metasparse.space import load_definition

CONTRACTS = Path(__file__).resolve().parents[1] / "docs" / "CONTRACTS.md"


def _configurations() -> str:
    """The first paragraph of the Configurations section, on one line."""
    section = CONTRACTS.read_text().split("## Configurations\n", 1)[1]
    return " ".join(section.strip().split("\n\n", 1)[0].split())


def test_the_contracts_list_every_parameter_of_the_meta_space_in_its_group():
    meta = load_definition("meta")
    text = _configurations()
    assert f"the {len(meta['parameters'])} parameter names" in text
    listed = {}
    for group in meta["axes"]:
        found = re.search(rf"[:;] {group} ((?:`\w+`(?:, )?)+)[;.]", text)
        assert found, f"no list of the {group} axes in {text!r}"
        listed[group] = re.findall(r"`(\w+)`", found.group(1))
    assert listed == meta["axes"]

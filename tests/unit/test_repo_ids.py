"""Model ids are valid exactly when huggingface_hub's own validator accepts them."""

from __future__ import annotations

import pytest
from huggingface_hub.utils import HFValidationError, validate_repo_id

from hfspider.hub.endpoint import is_repo_id

CASES = [
    "google/gemma-2-2b-it",
    "gpt2",
    "a/b_c.v1",
    "Org/Name",
    ".",
    "a/.",
    "./x",
    "a/b.",
    "dots/name.",
    "a/-b",
    "a/b-",
    "-a/b",
    "a/b/c",
    "a--b/c",
    "a/b..c",
    "a/b.git",
    "café/x",
    "x" * 96 + "/" + "y" * 96,
    "x" * 97 + "/y",
    "a/" + "y" * 97,
    "",
    "a/",
    "/b",
    "a b/c",
    "../../etc",
]


def hub_accepts(value: str) -> bool:
    try:
        validate_repo_id(value)
    except HFValidationError:
        return False
    return True


@pytest.mark.parametrize("value", CASES)
def test_same_verdict_as_huggingface_hub(value: str) -> None:
    assert is_repo_id(value) == hub_accepts(value)

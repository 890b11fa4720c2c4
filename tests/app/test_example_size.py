"""The size switch of the example scripts."""

from pathlib import Path

import pytest

from sciml.app.examples import EXAMPLE_SIZE_VARIABLE, example_size

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


@pytest.mark.parametrize(
    ("value", "expected"),
    [(None, "small"), ("", "small"), ("small", "small"), (" FULL ", "full"), ("full", "full")],
)
def test_example_size_reads_the_variable(monkeypatch, value, expected):
    if value is None:
        monkeypatch.delenv(EXAMPLE_SIZE_VARIABLE, raising=False)
    else:
        monkeypatch.setenv(EXAMPLE_SIZE_VARIABLE, value)
    assert example_size() == expected


def test_example_size_rejects_unknown_values(monkeypatch):
    monkeypatch.setenv(EXAMPLE_SIZE_VARIABLE, "large")
    with pytest.raises(ValueError, match=r"SCIML_EXAMPLE_SIZE='large'.*small, full"):
        example_size()


def test_every_gallery_example_has_a_full_configuration():
    scripts = sorted(EXAMPLES.glob("plot_*.py"))
    assert len(scripts) >= 13
    missing = [p.name for p in scripts if "example_size()" not in p.read_text()]
    assert not missing, f"examples without the SCIML_EXAMPLE_SIZE switch: {missing}"

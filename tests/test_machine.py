"""The machine description stored with benchmark and demo figures."""

from __future__ import annotations

import json

import pytest
import torch

from sciml._machine import cpu_model, machine_info, torch_threads


def test_machine_info_is_json_and_names_the_hardware() -> None:
    info = machine_info(peer="1.2")
    assert info["cpu"] == cpu_model() and info["cpu"].strip()
    assert info["cores"] >= 1 and info["torch"] == torch.__version__
    assert info["gpu"] == (torch.cuda.get_device_name(0) if torch.cuda.is_available() else None)
    assert info["peer"] == "1.2" and len(info["load_average_start"]) == 3
    assert json.loads(json.dumps(info)) == info


def test_torch_threads_sets_and_restores() -> None:
    before = torch.get_num_threads()
    with torch_threads(1):
        assert torch.get_num_threads() == 1
    assert torch.get_num_threads() == before
    with torch_threads(None):
        assert torch.get_num_threads() == before
    with pytest.raises(RuntimeError), torch_threads(1):  # restored on errors too
        raise RuntimeError("boom")
    assert torch.get_num_threads() == before
    with pytest.raises(ValueError, match=">= 1"), torch_threads(0):
        pass

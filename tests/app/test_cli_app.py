"""``sciml train`` / ``sciml evaluate`` from the shell's side, and every command's --help."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from sciml.cli import main

CONFIG = """
[data]
generator = "antiderivative"
n_train = 40
n_test = 10
input = "u"
output = "s"

[model]
kind = "deeponet"

[train]
epochs = 30
batch_size = 20
lr = 3e-3
out_dir = "{out}"
"""


@pytest.mark.parametrize(
    "command", [[], ["demo"], ["data"], ["train"], ["evaluate"], ["solve"], ["bench"]]
)
def test_every_command_has_help(command: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main([*command, "--help"])
    assert exit_info.value.code == 0
    assert "usage: sciml" in capsys.readouterr().out


def test_train_then_evaluate(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "run.toml"
    config.write_text(CONFIG.format(out=(tmp_path / "run").as_posix()))
    threads = torch.get_num_threads()
    assert main(["train", str(config), "--quiet", "--device", "cpu", "--threads", "1"]) == 0
    assert torch.get_num_threads() == threads  # restored after the run
    out = capsys.readouterr().out
    assert "checkpoint" in out and (tmp_path / "run" / "checkpoint.pt").is_file()
    test_error = float(out.split("test ")[1].split()[0])
    assert 0 < test_error < 1.0  # the training mean's error on this data is about 1
    assert main(["evaluate", str(tmp_path / "run")]) == 0
    out = capsys.readouterr().out
    mean = float(out.split("mean ")[1].split(",")[0])
    assert mean == pytest.approx(test_error, rel=1e-3)
    assert Path(out.split("figure")[1].split()[0]).is_file()


def test_bad_input_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["train", str(tmp_path / "missing.toml")]) == 2
    bad = tmp_path / "bad.toml"
    bad.write_text(CONFIG.format(out="x").replace('kind = "deeponet"', 'kind = "transformer"'))
    assert main(["train", str(bad)]) == 2
    assert "transformer" in capsys.readouterr().err
    assert main(["train", str(bad), "--threads", "0"]) == 2
    assert "threads must be >= 1" in capsys.readouterr().err
    (tmp_path / "junk.pt").write_bytes(b"not a checkpoint")
    assert main(["evaluate", str(tmp_path / "junk.pt")]) == 2
    assert "junk.pt" in capsys.readouterr().err

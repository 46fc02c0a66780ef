import json

import pytest
import torch

from composer.errors import ModelError
from composer.io.checkpoint import load_weights, read_config, save_checkpoint


def test_save_and_load_round_trip(tmp_path):
    torch.manual_seed(0)
    model = torch.nn.Linear(3, 2)
    save_checkpoint(tmp_path / "m", model, "toy", {"in_features": 3, "out_features": 2}, {"note": "x"})
    config = read_config(tmp_path / "m", kind="toy")
    assert config["note"] == "x"
    loaded = load_weights(tmp_path / "m", torch.nn.Linear(**config["model"]))
    assert torch.equal(loaded.weight, model.weight) and torch.equal(loaded.bias, model.bias)
    assert sorted(p.name for p in (tmp_path / "m").iterdir()) == ["config.json", "model.safetensors"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m"]  # no temporary folder left


def test_wrong_kind_version_and_shape_are_clear(tmp_path):
    save_checkpoint(tmp_path / "m", torch.nn.Linear(3, 2), "toy", {"in_features": 3, "out_features": 2})
    with pytest.raises(ModelError, match="expected 'form'"):
        read_config(tmp_path / "m", kind="form")
    with pytest.raises(ModelError, match="do not fit"):
        load_weights(tmp_path / "m", torch.nn.Linear(4, 2))
    config = json.loads((tmp_path / "m" / "config.json").read_text())
    config["format_version"] = 99
    (tmp_path / "m" / "config.json").write_text(json.dumps(config))
    with pytest.raises(ModelError, match="version 99"):
        read_config(tmp_path / "m")
    with pytest.raises(ModelError, match="no config.json"):
        read_config(tmp_path / "missing")


def test_corrupt_weights_are_a_model_error(tmp_path):
    save_checkpoint(tmp_path / "m", torch.nn.Linear(3, 2), "toy", {"in_features": 3, "out_features": 2})
    (tmp_path / "m" / "model.safetensors").write_bytes(b"not safetensors")
    with pytest.raises(ModelError, match="cannot read"):
        load_weights(tmp_path / "m", torch.nn.Linear(3, 2))

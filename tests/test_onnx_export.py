"""What can be checked of the ONNX export without PyTorch: which models it can serve (the export itself: test_onnx_runtime)."""

from __future__ import annotations

import pytest

from indexer.onnx_export import is_mean_pooled


class Transformer:
    pass


class Pooling:
    def __init__(self, mode: str):
        self.mode = mode

    def get_config_dict(self) -> dict:
        return {"pooling_mode": self.mode}


class Normalize:
    pass


@pytest.mark.parametrize("modules", [[Transformer(), Pooling("mean")], [Transformer(), Pooling("mean"), Normalize()]],
                         ids=["mean", "mean+normalize"])
def test_mean_pooled_models_are_recognised(modules):
    assert is_mean_pooled(modules)


@pytest.mark.parametrize("modules", [[Transformer(), Pooling("cls")], [Transformer(), Pooling("cls"), Normalize()],
                                     [Transformer(), Normalize(), Pooling("mean")], [Transformer()],
                                     [Transformer(), Pooling("mean"), Normalize(), Normalize()]],
                         ids=["cls", "cls+normalize", "other-order", "no-pooling", "extra-module"])
def test_other_models_are_not(modules):
    assert not is_mean_pooled(modules)

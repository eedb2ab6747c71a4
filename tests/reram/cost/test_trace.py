"""Tests of model tracing (layer shapes per sample)."""
from __future__ import annotations

import pytest
import torch
from torch import nn

import reram

from reram.cost.trace import LayerTrace, Trace, trace_model


def test_sequential_shapes_and_kinds():
    net = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1, stride=2), nn.BatchNorm2d(8), nn.ReLU(),
                        nn.MaxPool2d(2), nn.Flatten(), nn.Dropout(), nn.Linear(8 * 4 * 4, 10))
    trace = trace_model(net, (3, 16, 16))
    assert [l.kind for l in trace.layers] == ["conv", "bn", "act", "pool", "linear"]
    conv, bn, _, pool, fc = trace.layers
    assert conv.input_shape == (3, 16, 16) and conv.output_shape == (8, 8, 8)
    assert conv.weight_rows == 27 and conv.weight_cols == 8 and conv.mvms_per_sample == 64
    assert conv.macs_per_sample == 64 * 27 * 8 and conv.stride == (2, 2)
    assert bn.in_channels == 8 and bn.input_numel == 512
    assert pool.kernel_size == (2, 2) and pool.output_shape == (8, 4, 4)
    assert fc.weight_rows == 128 and fc.weight_cols == 10 and fc.mvms_per_sample == 1
    assert trace.bn_count == 1


def test_grouped_conv_and_restored_train_flags():
    net = nn.Sequential(nn.Conv2d(8, 16, 3, groups=4, bias=False), nn.BatchNorm2d(16))
    net.train()
    trace = trace_model(net, (8, 5, 5))
    assert net.training and net[1].training
    conv = trace.layers[0]
    assert conv.groups == 4 and conv.weight_rows == 2 * 9 and conv.weight_cols == 4
    assert conv.weight_count == 16 * 2 * 9 and not conv.has_bias


def test_subclasses_and_identity_left_by_bn_removal():
    class MyConv(nn.Conv2d):
        pass

    net = nn.Sequential(MyConv(1, 2, 1), nn.Identity(), nn.ReLU())
    trace = trace_model(net, (1, 4, 4))
    assert [(l.kind, l.module_type) for l in trace.layers] == [("conv", "MyConv"), ("act", "ReLU")]


def test_crossbar_layers_are_recognised():
    net = nn.Sequential(reram.CrossbarConv2d(1, 2, 3), nn.Flatten(), reram.CrossbarLinear(8, 3))
    trace = trace_model(net, (1, 4, 4))
    assert [l.kind for l in trace.layers] == ["conv", "linear"]


def test_torchvision_resnet18_counts():
    import torchvision

    trace = trace_model(torchvision.models.resnet18(weights=None), (3, 32, 32))
    kinds = [l.kind for l in trace.layers]
    assert kinds.count("conv") == 20 and kinds.count("bn") == 20 and kinds.count("linear") == 1
    assert trace.layers[0].output_shape == (64, 16, 16)


def test_errors_are_one_line_value_errors():
    with pytest.raises(ValueError, match="input_shape"):
        trace_model(nn.Linear(2, 2), ())
    with pytest.raises(ValueError, match="does not run on input_shape"):
        trace_model(nn.Linear(2, 2), (3,))
    with pytest.raises(ValueError, match="cannot trace layer '0' of type LSTM"):
        trace_model(nn.Sequential(nn.LSTM(2, 2)), (2, 2))
    with pytest.raises(ValueError, match="LayerTrace.kind"):
        LayerTrace("x", "rnn", "RNN", (1,), (1,))


def test_to_dict_is_plain():
    trace = trace_model(nn.Sequential(nn.Linear(3, 2)), (3,))
    data = trace.to_dict()
    assert data["layers"][0]["in_channels"] == 3 and isinstance(trace, Trace)


# ---------------------------------------------------------------- issue 24, item 8: nothing costed as free
def test_multihead_attention_is_not_costed_as_free():
    from reram.cost.trace import trace_model

    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            self.attn = nn.MultiheadAttention(8, 2, batch_first=True)
            self.fc = nn.Linear(8, 8)

        def forward(self, x):
            return self.fc(self.attn(x, x, x)[0])

    with pytest.raises(ValueError, match=r"'attn' of type MultiheadAttention.*in_proj_weight.*free"):
        trace_model(Block(), (4, 8))


def test_a_block_with_its_own_parameter_is_not_costed_as_free():
    from reram.cost.trace import trace_model

    class MatMulBlock(nn.Module):
        def __init__(self):
            super().__init__()
            self.w = nn.Parameter(torch.randn(8, 8))
            self.act = nn.ReLU()

        def forward(self, x):
            return self.act(x @ self.w)

    with pytest.raises(ValueError, match=r"'' of type MatMulBlock.*\['w'\]"):
        trace_model(MatMulBlock(), (8,))
    net = nn.Sequential(nn.Linear(8, 8), MatMulBlock())
    with pytest.raises(ValueError, match=r"'1' of type MatMulBlock"):
        trace_model(net, (8,))


def test_a_linear_used_functionally_is_reported_as_uncosted():
    from reram.cost.trace import trace_model

    class Functional(nn.Module):
        def __init__(self):
            super().__init__()
            self.used = nn.Linear(8, 8)
            self.proj = nn.Linear(8, 4)

        def forward(self, x):
            return nn.functional.linear(self.used(x), self.proj.weight, self.proj.bias)

    with pytest.warns(UserWarning, match=r"1 Conv2d/Linear layer\(s\) never ran.*NOT costed: proj"):
        trace = trace_model(Functional(), (8,))
    assert [layer.name for layer in trace.layers] == ["used"]

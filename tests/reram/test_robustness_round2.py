"""Issue 24 ("Nothing lost, round two"): regression tests of the probe's silent wrong results
and tracebacks that belong to the config, the layers, conversion and the trace."""
from __future__ import annotations

import math
import warnings

import pytest
import torch
from torch import nn

import reram
from reram import CrossbarConfig, CrossbarConv2d, CrossbarLinear


# ------------------------------------------------------------------ config (items 6, 9)
def test_input_bits_above_25_are_refused_in_one_line():
    """Item 6: 26+ input bits rounded the top code to 2**25 in float32 (the sample's largest
    negative input read as 0); 25 is the most whose codes are all exact float32 integers."""
    with pytest.raises(ValueError, match=r"input_bits must be None or an integer in \[2, 25\]"):
        CrossbarConfig(input_bits=26)
    cfg = CrossbarConfig(input_bits=25, adc_bits=None, tile_size=None, weight_bits=None, cell_bits=None)
    assert float(torch.tensor(float(cfg.input_levels), dtype=torch.float32)) == cfg.input_levels
    layer = CrossbarLinear(3, 1, bias=False, config=cfg)
    with torch.no_grad():
        layer.weight.copy_(torch.tensor([[1.0, 0.0, 0.0]]))
    x = torch.tensor([[-1.0, 0.5, 0.25]])  # the largest negative input is the top code
    assert torch.allclose(layer(x), torch.tensor([[-1.0]]), atol=1e-6)


def test_variation_that_would_overflow_is_refused_and_the_largest_allowed_stays_finite():
    with pytest.raises(ValueError, match=r"variation must be a number in \[0, 5.0\]"):
        CrossbarConfig(variation=100.0)
    with pytest.raises(ValueError, match="variation"):
        CrossbarConfig(variation=math.nan)
    torch.manual_seed(0)
    layer = CrossbarLinear(64, 8, config=CrossbarConfig(variation=5.0, adc_bits=None))
    assert torch.isfinite(layer.effective_weight()).all()
    assert torch.isfinite(layer(torch.randn(4, 64))).all()


def test_read_noise_never_makes_a_conductance_negative():
    from reram.sim.mapping import _r_min
    from reram.sim.tiles import _noisy

    cfg = CrossbarConfig(read_noise=3.0)
    levels = torch.randint(0, 4, (200, 50)).float()
    noisy = _noisy(levels, cfg, torch.Generator().manual_seed(0))
    conductance = noisy + _r_min(cfg)  # in conductance steps, g_min included
    assert float(conductance.min()) >= 0.0 and float(conductance.min()) == 0.0  # clipped, and it bit


def test_a_huge_value_is_not_echoed_in_the_error():
    huge = "x" * 10_000_000
    with pytest.raises(ValueError) as info:
        CrossbarConfig(update=huge)
    assert len(str(info.value)) < 500 and "10000002 characters" in str(info.value)
    with pytest.raises(ValueError) as info:
        CrossbarConfig.preset(huge)
    assert len(str(info.value)) < 500
    with pytest.raises(ValueError) as info:
        CrossbarConfig.from_dict({huge: 1})
    assert len(str(info.value)) < 1000


def test_deeply_nested_config_json_is_a_one_line_error(tmp_path):
    deep = '{"a": ' + "[" * 100000 + "]" * 100000 + "}"
    with pytest.raises(ValueError, match="nested too deeply"):
        CrossbarConfig.from_json(deep)
    path = tmp_path / "deep.json"
    path.write_text(deep)
    with pytest.raises(ValueError, match="nested too deeply"):
        CrossbarConfig.from_json(path)


def test_a_preset_is_a_name_never_a_file(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "isaac").mkdir()
    (tmp_path / "neurosim").write_text("{}")
    assert CrossbarConfig.preset("isaac").input_bits == 16
    assert CrossbarConfig.preset("neurosim").adc_bits == 5
    with pytest.raises(ValueError, match="preset must be one of"):
        CrossbarConfig.preset(tmp_path / "isaac")
    (tmp_path / "my.json").write_text('{"weight_bits": 3}')
    assert CrossbarConfig.from_json("my.json").weight_bits == 3
    with pytest.raises(ValueError, match="neither a JSON object nor a readable file"):
        CrossbarConfig.from_json("isaac")  # a folder


# ------------------------------------------------------------------ layers (item 7, classes)
LOSSLESS = CrossbarConfig(weight_bits=4, adc_bits=None)


@pytest.mark.parametrize("dtype", [torch.int64, torch.uint8, torch.int32, torch.bool])
def test_integer_inputs_are_refused_like_nn_linear(dtype):
    """Item 7: integer inputs returned zeros of their dtype; nn.Linear/nn.Conv2d raise. The
    crossbar layers raise too (one line), for ideal configs as well."""
    x = torch.ones(2, 4, dtype=dtype)
    with pytest.raises(RuntimeError):
        nn.Linear(4, 3)(x)
    for cfg in (CrossbarConfig(), CrossbarConfig.ideal()):
        with pytest.raises(TypeError, match=f"expects a floating-point input.*{dtype}") as info:
            CrossbarLinear(4, 3, config=cfg)(x)
        assert "\n" not in str(info.value)
    with pytest.raises(TypeError, match="floating-point"):
        CrossbarConv2d(2, 3, 3)(torch.ones(1, 2, 5, 5, dtype=dtype))


@pytest.mark.parametrize("cfg", [LOSSLESS, CrossbarConfig()], ids=["lossless", "tiled"])
def test_float64_models_run_and_return_float64(cfg):
    torch.manual_seed(0)
    lin, conv = nn.Linear(6, 3).double(), nn.Conv2d(2, 3, 3).double()
    x, img = torch.randn(4, 6, dtype=torch.float64), torch.randn(2, 2, 5, 5, dtype=torch.float64)
    xlin, xconv = reram.convert(lin, cfg), reram.convert(conv, cfg)
    y, z = xlin(x), xconv(img)
    assert y.dtype == z.dtype == torch.float64
    # the same result as the float32 model (the crossbar computes in float32)
    assert torch.allclose(y, reram.convert(lin.float(), cfg)(x.float()).double(), atol=1e-5)
    assert torch.allclose(z, reram.convert(conv.float(), cfg)(img.float()).double(), atol=1e-5)


def test_layers_build_and_run_under_inference_mode():
    torch.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(2, 3, 3), nn.Flatten(), nn.Linear(27, 2))
    x = torch.randn(1, 2, 5, 5)
    expected = reram.convert(net, CrossbarConfig(update="stochastic"))(x)
    with torch.inference_mode():
        built = reram.convert(net, CrossbarConfig(update="stochastic"))
        assert torch.equal(built(x), expected)
        layer = CrossbarLinear(4, 3)
        assert layer(torch.randn(2, 4)).shape == (2, 3)


@pytest.mark.parametrize("shape", [(0, 3), (3, 0)])
def test_a_layer_without_weights_works_like_nn_linear(shape):
    torch.manual_seed(0)
    ref = nn.Linear(*shape)
    layer = CrossbarLinear.from_float(ref, CrossbarConfig())
    x = torch.randn(2, shape[0])
    assert torch.equal(layer(x), ref(x)) and layer(x).shape == (2, shape[1])
    assert CrossbarLinear(*shape)(x).shape == (2, shape[1])


def test_jit_trace_and_export_say_in_one_line_that_the_simulation_cannot_be_traced():
    layer, x = CrossbarLinear(4, 3), torch.randn(2, 4)
    for trace in (lambda: torch.jit.trace(layer, x),
                  lambda: torch.jit.trace(CrossbarConv2d(2, 3, 3), torch.randn(1, 2, 5, 5)),
                  lambda: torch.export.export(layer, (x,))):
        with pytest.raises(RuntimeError, match="cannot be traced") as info:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                trace()
        assert "\n" not in str(info.value)
    assert torch.jit.trace(reram.convert_to_float(nn.Sequential(layer)), x) is not None


@pytest.mark.slow
def test_torch_compile_runs_the_crossbar_eagerly_through_a_graph_break():
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(4, 4), CrossbarLinear(4, 3), nn.ReLU())
    x = torch.randn(2, 4)
    assert torch.equal(torch.compile(net)(x), net(x))


# ------------------------------------------------------------------ item 5: the standard checkpoint pattern
def _net(seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Conv2d(1, 3, 3), nn.ReLU(), nn.Flatten(), nn.Linear(3 * 4 * 4, 4))


def _steps(model, opt, batches):
    for x, y in batches:
        opt.zero_grad()
        nn.functional.cross_entropy(model(x), y).backward()
        opt.step()


@pytest.mark.parametrize("cfg", [
    CrossbarConfig(weight_bits=4, update="pulsed", device="ag-a-si", adc_bits=None),
    CrossbarConfig(weight_bits=4, update="pulsed", device="linear"),
    CrossbarConfig(weight_bits=4, update="stochastic", adc_bits=None),
], ids=["pulsed-ag-a-si", "pulsed-linear", "stochastic"])
def test_state_dict_saved_right_after_step_resumes_bit_identically(cfg):
    """Item 5: state_dict() + optimizer state saved right after opt.step(), loaded into a fresh
    converted model, lost that step's pulses / rounding (0.06-0.096 off the uninterrupted run)."""
    import copy

    gen = torch.Generator().manual_seed(1)
    batches = [(torch.randn(8, 1, 6, 6, generator=gen), torch.randint(0, 4, (8,), generator=gen))
               for _ in range(6)]
    model = reram.convert(_net(), cfg)
    opt = torch.optim.SGD(model.parameters(), lr=0.5, momentum=0.9)
    _steps(model, opt, batches[:3])
    saved = copy.deepcopy({"model": model.state_dict(), "opt": opt.state_dict()})
    _steps(model, opt, batches[3:])
    fresh = reram.convert(_net(), cfg)
    fresh_opt = torch.optim.SGD(fresh.parameters(), lr=0.5, momentum=0.9)
    fresh.load_state_dict(saved["model"])
    fresh_opt.load_state_dict(saved["opt"])
    _steps(fresh, fresh_opt, batches[3:])
    for (name, a), b in zip(model.state_dict().items(), fresh.state_dict().values()):
        assert torch.equal(a, b), name
    x = batches[0][0]
    assert torch.equal(model(x), fresh(x))


# ------------------------------------------------------------------ item 9: float32 currents past 2**24
def test_float32_product_path_past_2_to_24_says_so():
    from reram.sim.tiles import product_path

    wide = CrossbarConfig(tile_size=None, input_bits=16, dac_bits=None, weight_bits=8, adc_bits=12)
    assert product_path(wide, 300) == "fp32"
    with pytest.warns(UserWarning, match=r"column currents reach 29490300 > 2\*\*24 on the float32"):
        CrossbarLinear(300, 2, config=wide)
    with pytest.warns(UserWarning, match="2\\*\\*24"):
        reram.convert(nn.Linear(300, 2), wide)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        CrossbarLinear(300, 2, config=wide.replace(tile_size=128))  # 128 * 32767 * 3: exact
        CrossbarLinear(300, 2, config=CrossbarConfig.preset("isaac"))
        CrossbarLinear(300, 2, config=wide.replace(variation=0.1))  # not integers anyway


# ------------------------------------------------------------------ Ctrl-C while a console script starts
def test_ctrl_c_while_a_console_script_starts_is_one_line_and_status_130():
    import signal
    import subprocess
    import sys

    code = ("import sys; sys.argv[0] = '/usr/bin/reram-train'; import reram; "
            "raise KeyboardInterrupt")  # as if Ctrl-C came while torch was being imported
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.stderr == "reram-train: interrupted\n"
    assert done.returncode == -signal.SIGINT  # a shell shows 130
    library = subprocess.run([sys.executable, "-c", "import reram; raise KeyboardInterrupt"],
                             capture_output=True, text=True, timeout=120)
    assert "Traceback" in library.stderr  # importing reram in one's own script changes nothing

"""reram.convert / convert_to_float on hand-built and torchvision models."""
import warnings

import pytest
import torch
import torchvision
from torch import nn

import reram
from reram import CrossbarConfig, CrossbarConv2d, CrossbarLinear
from reram.sim.convert import UnconvertedLayerWarning

CFG = CrossbarConfig(weight_bits=6, input_bits=8, adc_bits=None, cell_bits=None)


def _count(model, cls):
    return sum(isinstance(m, cls) for m in model.modules())


@pytest.mark.parametrize("builder,n_conv,n_lin", [
    (torchvision.models.resnet18, 20, 1), (torchvision.models.vgg11_bn, 8, 3)])
def test_torchvision_models(builder, n_conv, n_lin):
    torch.manual_seed(0)
    model = builder(weights=None, num_classes=10).eval()
    converted = reram.convert(model, CFG)
    assert _count(converted, CrossbarConv2d) == n_conv
    assert _count(converted, CrossbarLinear) == n_lin
    assert _count(converted, nn.BatchNorm2d) == _count(model, nn.BatchNorm2d)
    assert _count(model, CrossbarConv2d) == 0            # the original is untouched
    assert not converted.training
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        y, ref = converted(x), model(x)
    assert y.shape == ref.shape
    rel = float((y - ref).norm() / ref.norm())
    assert rel < 0.5
    back = reram.convert_to_float(converted)
    assert _count(back, CrossbarConv2d) == 0 and _count(back, nn.Conv2d) == n_conv
    summary = reram.summarize(converted)
    assert summary.n_crossbar == n_conv + n_lin and f"{n_conv + n_lin} layer(s) on crossbars" in str(summary)


def test_exclude_config_fn_inplace_and_seeds():
    net = nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 6 * 6, 8), nn.Linear(8, 2))
    out = reram.convert(net, CFG, exclude=("4",))
    assert isinstance(out[0], CrossbarConv2d) and isinstance(out[3], CrossbarLinear)
    assert type(out[4]) is nn.Linear
    out = reram.convert(net, CFG, exclude="*")
    assert _count(out, reram.CrossbarLayer) == 0

    def per_layer(name, module, cfg):
        if isinstance(module, nn.Conv2d):
            return cfg.replace(weight_bits=3)
        return None if name == "3" else cfg
    out = reram.convert(net, CFG, config_fn=per_layer)
    assert out[0].crossbar_config.weight_bits == 3 and type(out[3]) is nn.Linear
    assert out[4].crossbar_config.weight_bits == 6
    assert out[0].crossbar_config.seed != out[4].crossbar_config.seed   # independent chips
    same = reram.convert(net, CFG)
    again = reram.convert(net, CFG)
    assert same[0].crossbar_config.seed == again[0].crossbar_config.seed
    res = reram.convert(net, CFG, inplace=True)
    assert res is net and isinstance(net[0], CrossbarConv2d)
    with pytest.raises(TypeError, match="config_fn"):
        reram.convert(nn.Linear(2, 2), CFG, config_fn=lambda *a: {"weight_bits": 3})


def test_hooks_mode_and_bare_layer_kept():
    lin = nn.Linear(4, 2)
    seen = []
    lin.register_forward_hook(lambda m, i, o: seen.append(o.shape))
    lin.eval()
    out = reram.convert(lin, CFG)
    assert isinstance(out, CrossbarLinear) and not out.training
    out(torch.randn(3, 4))
    assert seen == [torch.Size([3, 2])]


def test_bad_arguments():
    with pytest.raises(TypeError, match="model"):
        reram.convert("resnet", CFG)
    with pytest.raises(TypeError, match="config"):
        reram.convert(nn.Linear(2, 2), {"weight_bits": 4})


# ---------------------------------------------------------------- issue 15: nothing silently wrong
def _sgd_steps(model, steps=5, in_features=16):
    opt = torch.optim.SGD(model.parameters(), lr=0.5)
    gen = torch.Generator().manual_seed(0)
    for _ in range(steps):
        x = torch.randn(8, in_features, generator=gen)
        loss = model(x).square().mean()
        opt.zero_grad()
        loss.backward()
        opt.step()


def test_module_used_twice_is_converted_once_and_used_twice():
    torch.manual_seed(0)
    lin = nn.Linear(16, 16)
    net = nn.Sequential(lin, nn.ReLU(), lin)
    out = reram.convert(net, CFG)
    assert isinstance(out[0], CrossbarLinear) and out[0] is out[2]
    assert len(list(out.parameters())) == 2
    x = torch.randn(4, 16)
    layer = out[0]
    assert torch.equal(out(x), layer(torch.relu(layer(x))))
    back = reram.convert_to_float(out)
    assert type(back[0]) is nn.Linear and back[0] is back[2]


@pytest.mark.parametrize("update", ["nearest", "digital"])
def test_tied_parameters_stay_one_parameter_through_training(update):
    torch.manual_seed(0)
    a, b = nn.Linear(16, 16), nn.Linear(16, 16)
    b.weight = a.weight
    out = reram.convert(nn.Sequential(a, nn.ReLU(), b), CFG.replace(update=update))
    assert isinstance(out[0], CrossbarLinear) and isinstance(out[2], CrossbarLinear)
    assert len(list(out.parameters())) == 3
    assert out[0].weight is out[2].weight
    _sgd_steps(out)
    assert out[0].weight is out[2].weight
    assert torch.equal(out[0].effective_weight(), out[2].effective_weight())  # one grid, no defects
    back = reram.convert_to_float(out)
    assert back[0].weight is back[2].weight and len(list(back.parameters())) == 3


class _TiedLM(nn.Module):
    def __init__(self, vocab=20, dim=16):
        super().__init__()
        self.embed = nn.Embedding(vocab, dim)
        self.hidden = nn.Linear(dim, dim)
        self.head = nn.Linear(dim, vocab, bias=False)
        self.head.weight = self.embed.weight

    def forward(self, tokens):
        return self.head(torch.relu(self.hidden(self.embed(tokens))))


def test_tied_embedding_and_output_head_stay_tied():
    torch.manual_seed(0)
    lm = _TiedLM()
    out = reram.convert(lm, CFG)
    assert isinstance(out.head, CrossbarLinear) and type(out.embed) is nn.Embedding
    assert out.head.weight is out.embed.weight
    assert len(list(out.parameters())) == len(list(lm.parameters())) == 3
    opt = torch.optim.SGD(out.parameters(), lr=0.5)
    tokens = torch.randint(0, 20, (6, 5), generator=torch.Generator().manual_seed(1))
    for _ in range(5):
        loss = nn.functional.cross_entropy(out(tokens).reshape(-1, 20), tokens.reshape(-1))
        opt.zero_grad()
        loss.backward()
        opt.step()
    out(tokens)  # programs the last update: the weight is snapped onto the head's grid
    assert out.head.weight is out.embed.weight
    torch.testing.assert_close(out.embed.weight.detach(), out.head.effective_weight())


def test_tied_layers_given_different_configs_are_refused():
    a, b = nn.Linear(8, 8), nn.Linear(8, 8)
    b.weight = a.weight
    with pytest.raises(ValueError, match="share one weight Parameter"):
        reram.convert(nn.Sequential(a, b), CFG,
                      config_fn=lambda name, m, cfg: cfg.replace(weight_bits=3) if name == "1"
                      else cfg)


class _Mixed(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(2, 3, 3)
        self.conv1d = nn.Conv1d(2, 3, 3)
        self.up = nn.ConvTranspose2d(3, 2, 2)
        self.vol = nn.Conv3d(1, 2, 3)
        self.rnn = nn.LSTM(4, 5)
        self.pair = nn.Bilinear(3, 3, 2)
        self.attn = nn.MultiheadAttention(4, 2)
        self.fc = nn.Linear(4, 2)


UNSUPPORTED = {"conv1d": "Conv1d", "up": "ConvTranspose2d", "vol": "Conv3d", "rnn": "LSTM",
               "pair": "Bilinear", "attn": "MultiheadAttention"}


def test_unsupported_layers_are_named_by_convert_and_summarize():
    with pytest.warns(UnconvertedLayerWarning) as record:
        out = reram.convert(_Mixed(), CFG)
    assert len(record) == 1
    message = str(record[0].message)
    for name, kind in UNSUPPORTED.items():
        assert f"{name} ({kind})" in message
    assert "out_proj" not in message  # part of the attention layer, not a layer of its own
    assert isinstance(out.conv, CrossbarConv2d) and isinstance(out.fc, CrossbarLinear)
    summary = reram.summarize(out)
    assert sorted(summary.unsupported) == sorted(UNSUPPORTED)
    assert summary.n_crossbar == 2 and summary.n_float == len(UNSUPPORTED)
    assert "float (no crossbar version)" in str(summary) and "LSTM" in str(summary)
    with pytest.raises(ValueError, match=r"6 layer\(s\) with no crossbar version.*rnn \(LSTM\)"):
        reram.convert(_Mixed(), CFG, strict=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # excluded layers are a choice: no warning
        reram.convert(_Mixed(), CFG, exclude=tuple(UNSUPPORTED), strict=True)
    with pytest.raises(TypeError, match="strict"):
        reram.convert(nn.Linear(2, 2), CFG, strict="yes")


def test_converting_a_converted_model_applies_the_new_config():
    torch.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 6 * 6, 8))
    first = reram.convert(net, CFG)
    seen = []
    first[3].register_forward_hook(lambda m, i, o: seen.append(o.shape))
    low = CFG.replace(weight_bits=3, seed=5)
    again = reram.convert(first, low)
    fresh = reram.convert(net, low)
    for i in (0, 3):
        assert again[i].crossbar_config == fresh[i].crossbar_config
        assert again[i].effective_weight().unique().numel() <= 2 ** 3 - 1
    assert first[0].crossbar_config.weight_bits == 6          # the original is untouched
    again(torch.randn(2, 1, 8, 8))
    assert seen == [torch.Size([2, 8])]                        # hooks kept
    kept = reram.convert(first, low, exclude=("3",))           # excluded: left as it is
    assert kept[3].crossbar_config == first[3].crossbar_config
    assert kept[0].crossbar_config.weight_bits == 3


def test_subclasses_lazy_layers_and_attention_are_named_not_dropped():
    class Scaled(nn.Linear):  # a custom forward convert cannot know: left in float, named
        def forward(self, x):
            return 2 * super().forward(x)

    net = nn.Sequential(Scaled(8, 8), nn.LazyLinear(4), nn.TransformerEncoderLayer(8, 2, 16))
    with pytest.warns(UnconvertedLayerWarning) as record:
        out = reram.convert(net, CFG)
    message = str(record[0].message)
    assert "0 (Scaled)" in message and "2.self_attn (MultiheadAttention)" in message
    assert "1 (LazyLinear, uninitialized: run one forward pass before convert)" in message
    assert type(out[0]) is Scaled and isinstance(out[2].linear1, CrossbarLinear)
    summary = reram.summarize(out)
    assert summary.unsupported == ["0", "1", "2.self_attn"]
    assert "uninitialized" in str(summary)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a class the mapping names is converted, no warning
        mapped = reram.convert(net[:1], CFG, mapping={Scaled: CrossbarLinear})
    assert isinstance(mapped[0], CrossbarLinear)


def test_summarize_names_each_layers_product_path():
    from reram.sim.tiles import product_path

    net = nn.Sequential(nn.Conv2d(3, 8, 3), nn.Flatten(), nn.Linear(8 * 6 * 6, 10),
                        nn.Linear(10, 4))
    isaac = CrossbarConfig.preset("isaac")
    out = reram.convert(net, isaac, config_fn=lambda name, m, cfg: CrossbarConfig.ideal()
                        if name == "3" else cfg)
    rows = {r[0]: r for r in reram.summarize(out).rows}
    assert rows["0"][5] == product_path(isaac, 27) and rows["2"][5] == product_path(isaac, 288)
    assert rows["3"][5] == "plain"
    assert reram.summarize(net).rows[0][5] == ""                # float: no product
    assert "product" in str(reram.summarize(out)).splitlines()[0]


def test_an_exclude_entry_matching_nothing_is_refused():
    """Issue 24, item 9: exclude=("typo",) converted everything silently."""
    import pytest
    from torch import nn

    import reram

    net = nn.Sequential(nn.Linear(4, 4), nn.ReLU(), nn.Linear(4, 2))
    with pytest.raises(ValueError, match=r"exclude entry 'typo' matches no module.*0, 1, 2"):
        reram.convert(net, reram.CrossbarConfig(), exclude=("2", "typo"))
    kept = reram.convert(net, reram.CrossbarConfig(), exclude=("2", "1*"))
    assert type(kept[2]) is nn.Linear and isinstance(kept[0], reram.CrossbarLinear)

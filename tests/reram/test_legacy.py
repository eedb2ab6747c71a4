"""Files written by reram 0.1.0 (before the sim/cost/apps layout) still load."""
from __future__ import annotations

from pathlib import Path

import torch

import reram

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


def test_whole_model_pickled_by_0_1_0_loads_and_computes_the_same():
    """``model_v0_1_0.pt`` was written by ``torch.save(model)`` with reram 0.1.0 (a converted
    conv + linear net, 4-bit weights on 2-bit cells, 6-bit ADC, stuck-at faults); its output on
    a stored input was saved beside it."""
    model = torch.load(FIXTURES / "model_v0_1_0.pt", weights_only=False)
    io = torch.load(FIXTURES / "model_v0_1_0_io.pt")
    assert isinstance(model[0], reram.CrossbarConv2d) and isinstance(model[3], reram.CrossbarLinear)
    model.eval()
    with torch.no_grad():
        assert torch.equal(model(io["x"]), io["y"])
    model.train()  # and it still trains: a step re-programs the crossbars
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    model(io["x"]).sum().backward()
    opt.step()
    with torch.no_grad():
        assert not torch.equal(model.eval()(io["x"]), io["y"])


def test_old_module_paths_are_aliases_of_the_new_ones():
    import reram.layers
    import reram.mapping
    import reram.scheduler

    assert reram.layers.CrossbarLinear is reram.sim.layers.CrossbarLinear
    assert reram.mapping.ProgrammedWeights is reram.sim.mapping.ProgrammedWeights
    assert reram.scheduler.schedule is reram.cost.scheduler.schedule
    assert callable(reram.convert)  # the function, not a module alias

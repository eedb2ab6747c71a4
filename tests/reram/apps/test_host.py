"""The host description printed and stored beside every benchmark figure."""
from __future__ import annotations

import json

import torch

from reram.apps import host as host_mod
from reram.apps.host import describe_host, format_host, onednn_isa_rates


def test_describe_host_names_cpu_versions_and_product_rates(monkeypatch):
    monkeypatch.setattr(host_mod, "PRODUCT_SHAPES", ((32, 16, 64),))
    monkeypatch.setattr(host_mod, "onednn_isa_rates", lambda caps=(), shape=(): {"DEFAULT": 1.0})
    torch.set_num_threads(1)
    host = describe_host()
    assert host["cpu"] and host["torch"] == torch.__version__ and host["numba"]
    assert set(host["isa_flags"]) <= set(host_mod.ISA_FLAGS)
    rates = host["product_gops"]["32x16x64"]
    assert {"int_mm", "fp32"} <= set(rates) and all(r > 0 for r in rates.values())
    json.dumps(host)                                   # stored as JSON beside the figures
    text = format_host(host)
    assert host["cpu"] in text and "32x16x64" in text and "fp32" in text


def test_describe_host_without_measuring_is_quick():
    host = describe_host(measure=False)
    assert "product_gops" not in host and "cpu_products" in host


def test_onednn_isa_probe_measures_each_cap_in_its_own_process():
    rates = onednn_isa_rates(caps=("DEFAULT",), shape=(32, 16, 64))
    assert set(rates) == {"DEFAULT"} and rates["DEFAULT"] is not None and rates["DEFAULT"] > 0

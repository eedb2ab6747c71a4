"""Shared test settings: one thread (much faster for small models on 2 cores)."""
import numba
import torch

torch.set_num_threads(1)
numba.set_num_threads(1)

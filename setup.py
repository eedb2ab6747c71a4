"""Packaging for reram.

The top-level folders install as sub-packages of ``reram`` (``kernels/`` -> ``reram.kernels``,
``models/`` -> ``reram.models``, ...) so that generic names such as ``models`` or ``search``
never shadow a user's own modules.
"""
from setuptools import setup

SUBPACKAGES = {
    "reram.kernels": "kernels",
    "reram.models": "models",
    "reram.search": "search",
    "reram.analog": "analog",
}

setup(
    name="reram",
    version="0.2.0",
    description="ReRAM crossbar simulation for training CNNs, heterogeneous ReRAM+GPU "
    "scheduling, BatchNorm search and analog circuit sizing",
    python_requires=">=3.10",
    packages=["reram", "reram.sim", "reram.cost", "reram.apps", *SUBPACKAGES],
    package_dir={"reram": "reram", **SUBPACKAGES},
    package_data={"reram.cost": ["specs/*.json"]},
    install_requires=[
        "torch>=2.1",
        "numpy>=1.24",
        "numba>=0.59",
        "scipy>=1.10",
        "scikit-learn>=1.3",
        "tqdm>=4.60",
        "matplotlib>=3.7",
    ],
    extras_require={
        "bo": ["botorch>=0.12", "gpytorch>=1.12"],
        "ray": ["ray>=2.9"],
        "vision": ["torchvision>=0.16"],
        "test": ["pytest>=8", "pytest-xdist>=3.5", "pytest-benchmark>=4", "torchvision>=0.16", "hypothesis>=6.100"],
    },
    entry_points={
        "console_scripts": [
            "reram-demo=reram.apps.demo:main",
            "reram-train=reram.apps.train_cli:main",
            "reram-bn-search=reram.apps.bn_search_cli:main",
            "reram-bench=reram.apps.bench_cli:main",
            "reram-size=reram.apps.size_cli:main",
        ]
    },
)

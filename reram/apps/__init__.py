"""Applications: the console scripts, the demo, the benchmarks' shared code and the BN search.

The only place that joins the simulation, the cost model, the model zoo and the search; nothing
else in reram imports it. Modules load on use (``reram.apps.bn_search``, ...), so importing
this package costs nothing.
"""

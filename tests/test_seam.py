"""The engine seam: the driver knows no backend, imports run down the layers without circles, and runs record
what they did.

The byte-identity test remakes the runs of :mod:`seam_reference` (made with the code before the engine layer
was split) and compares every recorded file byte for byte. What it compares holds on any x86 CPU by design:

* cache keys, key hashes, prompt hashes and prompt fingerprints, prompts and prefixes: pure functions of the
  committed model files (content hash), tokenizer, chat template and settings;
* the texts of the openai engine: the fake server draws token ids from ``random.Random(path seed)`` and they
  are decoded by the committed tokenizer;
* the texts of the transformers engine (seeded sampling, and greedy in the hf judge and C2-Syn): the
  committed model's float32 logits can differ in their last bits between CPUs, but the reference was made
  where every token was far from changing (``manifest.json`` "margins": each sampled draw at least 2.4e-6 from
  the edge of its token's probability interval, tens of float32 ulps of these logits (|logit| < 0.35); each
  greedy step's top two logits at least 20% of the largest logit apart).
"""

from __future__ import annotations

import ast
import difflib
import subprocess
import sys
from pathlib import Path

from seam_reference import make_records, reference_records

ROOT = Path(__file__).resolve().parent.parent


def test_runs_record_the_same_bytes_as_before_the_engine_split(tmp_path):
    made, reference = make_records(tmp_path), reference_records()
    assert sorted(made) == sorted(reference)
    for name, text in reference.items():
        if made[name] != text:
            diff = "".join(list(difflib.unified_diff(text.splitlines(True), made[name].splitlines(True),
                                                     f"reference/{name}", f"now/{name}"))[:20])
            raise AssertionError(f"{name} differs from the reference:\n{diff}")


# A run of the driver with an engine that needs no torch, under an import hook that refuses torch.
NO_TORCH = r"""
import sys, tempfile

class NoTorch:
    def find_spec(self, name, path=None, target=None):
        if name == "torch" or name.startswith("torch."):
            raise ImportError("torch is blocked in this test")

sys.meta_path.insert(0, NoTorch())
import c2kit.engines, c2kit.engines.base, c2kit.engines.openai_engine, c2kit.http_client, c2kit.judges.openai_judge
from c2kit.gen_cache import GenerationCache
from c2kit.generation import SamplingConfig, generate_with_engine, paths_of
from c2kit.prefill import PrefillPrompt


class Echo(c2kit.engines.base.Engine):
    def plan_batches(self, prompts, sampling):
        return [[p] for p in prompts]

    def generate_batch(self, batch, sampling):
        return [[f"{p.item_id}/{path}" for path in paths_of(p, sampling)] for p in batch], 1


prompts = [PrefillPrompt("a", 1, "x", "p", (1, 2)), PrefillPrompt("b", 1, "y", "q", (3,))]
with tempfile.TemporaryDirectory() as folder:
    cache = GenerationCache(folder, {"test": 1})
    out = generate_with_engine(Echo(), prompts, SamplingConfig(num_paths=2), cache=cache, progress=False)
    assert [c.text for c in out] == ["a/0", "a/1", "b/0", "b/1"] and len(cache) == 4, out
assert "torch" not in sys.modules
print("ok")
"""


def test_the_driver_and_the_server_engine_import_and_run_without_torch():
    result = subprocess.run([sys.executable, "-c", NO_TORCH], capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 0 and result.stdout.strip() == "ok", result.stderr[-2000:]


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def import_graph(packages: tuple[str, ...]) -> dict[str, set[str]]:
    """Module -> the modules of ``packages`` it imports, at the top or inside functions (a lazy import closes
    a circle as surely as a top-level one, only later). Importing ``a.b.c`` also runs ``a.b``'s ``__init__``,
    except from inside ``a.b``, which only runs once its package has been imported."""
    modules = {module_name(path): path for package in packages for path in (ROOT / package).rglob("*.py")}
    graph: dict[str, set[str]] = {name: set() for name in modules}

    def add(source: str, target: str) -> None:
        while target and target not in modules:  # `from pkg.mod import name`: name is not a module
            target = target.rpartition(".")[0]
        if target and target != source:
            graph[source].add(target)
        parent = target.rpartition(".")[0]
        while parent:
            if parent in modules and not source.startswith(parent + "."):
                graph[source].add(parent)
            parent = parent.rpartition(".")[0]

    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    add(name, alias.name)
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    anchor = package.split(".")
                    anchor = anchor[: len(anchor) - node.level + 1]
                    base = ".".join(anchor + ([base] if base else []))
                for alias in node.names:
                    add(name, f"{base}.{alias.name}")
    return graph


def cycles_through(graph: dict[str, set[str]], prefixes: tuple[str, ...]) -> list[list[str]]:
    """Import circles (strongly connected groups) with a module under one of ``prefixes``."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    groups: list[list[str]] = []

    def visit(node: str) -> None:  # Tarjan
        index[node] = low[node] = len(index)
        stack.append(node)
        for nxt in sorted(graph[node]):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                group.append(member)
                if member == node:
                    break
            if len(group) > 1 and any(m.startswith(prefixes) for m in group):
                groups.append(sorted(group))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return groups


ENGINE_LAYER = ("c2kit.engines", "c2kit.generation", "c2kit.gen_cache", "c2kit.http_client", "c2kit.judges.openai_judge")


def test_no_import_circles_in_the_metric_package():
    assert cycles_through(import_graph(("c2_eval_metric",)), ("c2_eval_metric",)) == []


def test_no_import_circles_through_the_engine_layer():
    assert cycles_through(import_graph(("c2kit", "c2_eval_metric")), ENGINE_LAYER) == []


def test_the_circle_finder_sees_lazy_and_relative_imports(tmp_path):
    graph = {"p.a": {"p.b"}, "p.b": {"p.c"}, "p.c": {"p.a"}, "p.d": {"p.a"}, "q.e": set()}
    assert cycles_through(graph, ("p",)) == [["p.a", "p.b", "p.c"]]
    assert cycles_through(graph, ("q",)) == []
    real = import_graph(("c2_eval_metric",))
    assert "c2_eval_metric.corr" in real["c2_eval_metric.results"]  # `from .corr import ...` at the top
    assert "c2_eval_metric.harm" in real["c2_eval_metric.results"]  # `from .harm import ...` inside a function
    assert "c2kit.jsonio" not in real["c2_eval_metric.results"]  # other packages are not walked here


def test_no_import_circles_through_the_syn_and_publish_packages():
    graph = import_graph(("c2kit", "c2_eval_metric", "c2_syn_dataset"))
    assert cycles_through(graph, ("c2_syn_dataset", "c2kit.publish")) == []


# The layers, top to bottom: a module imports from its own layer or the ones below. Every c2kit module of no
# layer here is a base module (the bottom); c2 view's report and the harness adapters, which sit between the
# commands and the metric, are left out.
LAYERS = (("c2kit.cli",), ("c2kit.publish",), ("c2kit.training",), ("c2_eval_metric", "c2_syn_dataset"),
          ("c2kit.judges",), ("c2kit.engines",), ("c2kit.models",), ("c2kit.generation",))
UNLAYERED = ("c2kit.view", "c2kit.harness")


def _within(module: str, packages: tuple[str, ...]) -> bool:
    return any(module == package or module.startswith(package + ".") for package in packages)


def layer_of(module: str) -> int | None:
    """The module's layer, 0 at the top; None for a module of no layer."""
    found = [index for index, packages in enumerate(LAYERS) if _within(module, packages)]
    if found:
        return found[0]
    return None if _within(module, UNLAYERED) else len(LAYERS)


def upward_imports(graph: dict[str, set[str]]) -> list[tuple[str, str]]:
    """(module, what it imports) where the import runs up the layers."""
    pairs = []
    for source, targets in graph.items():
        for target in targets:
            below, above = layer_of(source), layer_of(target)
            if below is not None and above is not None and above < below:
                pairs.append((source, target))
    return sorted(pairs)


def test_imports_run_down_the_layers():
    upward = upward_imports(import_graph(("c2kit", "c2_eval_metric", "c2_syn_dataset")))
    assert upward == []


def test_the_layer_check_sees_an_import_up_and_lets_one_down_pass():
    graph = {"c2kit.judges.x": {"c2_eval_metric.results", "c2kit.engines.base", "c2kit.jsonio"},
             "c2kit.jsonio": {"c2kit.generation"}, "c2kit.view.page": {"c2kit.cli"}, "c2kit.cli.x": {"c2kit.view"}}
    assert upward_imports(graph) == [("c2kit.jsonio", "c2kit.generation"), ("c2kit.judges.x", "c2_eval_metric.results")]
    assert [layer_of(name) for name in ("c2kit.cli", "c2_syn_dataset.settings", "c2kit.models", "c2kit.paths",
                                        "c2kit.view.page", "c2kit.clipboard")] == [0, 3, 6, 8, None, 8]

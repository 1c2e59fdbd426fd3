"""``--engine ray``: N vLLM replicas as Ray actors (``--replicas N``, ``--tensor-parallel-size T`` GPUs each).

The vLLM engine with another core: :class:`c2kit.engines.ray_worker.RayPool` instead of one ``vllm.LLM``. Like
the vLLM engine it runs in this process where Ray and vLLM import, or in a worker process started with
``--vllm-python`` (Ray then runs in that interpreter, next to vLLM), and ``--vllm-option`` are the replicas'
``vllm.LLM`` arguments. ``--ray-address`` joins a running cluster (``auto``, ``HOST:6379`` or ``ray://HOST:10001``);
by default a local Ray is started for the run and stopped after it.

Requests, seeds, decoding, the cache key and so the text are the vLLM engine's: one request per path with its own
seed, whatever replica samples it, so a run over N replicas equals one in-process vLLM run with the same
settings, and the two share cached rows. A cached batch is ``batch_paths`` x ``replicas`` paths; inside it chunks
go to whichever replica is free, and a replica that dies loses only the chunks it held (docs/scale.md).
"""

from __future__ import annotations

from typing import Any

from c2kit.engines.vllm_engine import VLLMEngine, vllm_importable


def ray_importable() -> bool:
    try:
        import ray  # noqa: F401
    except Exception:
        return False
    return True


class RayEngine(VLLMEngine):
    name = "ray"
    worker = VLLMEngine.worker.with_name("ray_worker.py")

    def __init__(self, model: str, tokenizer, *, replicas: int = 1, address: str | None = None, **vllm) -> None:
        self.replicas = replicas
        self.address = address
        self.batch_paths = VLLMEngine.batch_paths * replicas  # each replica gets as much at once as one engine
        super().__init__(model, tokenizer, **vllm)

    def _importable(self) -> bool:
        return vllm_importable() and ray_importable()

    def _missing(self) -> str:
        return "Ray or vLLM"

    def _open_core(self):
        from c2kit.engines.ray_worker import RayPool

        return RayPool(self.model, self.options, **self._pool_settings())

    def _init_request(self) -> dict:
        return {**super()._init_request(), **self._pool_settings()}

    def _pool_settings(self) -> dict[str, Any]:
        return {"replicas": self.replicas, "address": self.address,
                "tensor_parallel_size": self.options.get("tensor_parallel_size", 1)}

    def info(self) -> dict[str, Any]:
        described = self.described
        return {**super().info(), "ray_version": described["ray_version"], "address": described["address"],
                "replicas": described["replicas"]}


def open_ray(options, request):
    """The registered factory of ``--engine ray``."""
    from c2kit.engines.registry import OpenedEngine, tokenizer_here
    from c2kit.engines.vllm_engine import vllm_arguments

    loaded, generation_config = tokenizer_here(request)
    engine = RayEngine(request.model, loaded.tokenizer, replicas=options.replicas, address=options.ray_address,
                       **vllm_arguments(options, request))
    return OpenedEngine(engine, loaded, generation_config)

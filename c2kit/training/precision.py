"""Mixed precision for QLoRA DPO: pick fp16/bf16/fp32 for the hardware, and the T4 fp16 fix.

T4-class GPUs have no bf16, so the recipe trains there with fp16 autocast and a gradient scaler. TRL 1.16
casts the trainable LoRA parameters of a quantized model to bf16 inside ``DPOTrainer.__init__`` (the QLoRA
paper's choice), and the fp16 gradient scaler then fails at the first clip (``_amp_foreach_non_finite_check_
and_unscale_cuda not implemented for 'BFloat16'``). :func:`cast_trainable_params_to_fp32` undoes the cast
after the trainer is built and before ``train()`` creates the optimizer. The same cast is right for fp32
(CPU) training: there, bf16 adapter weights would only lose precision, and small Adam updates would round
away. Only bf16 autocast keeps TRL's bf16 adapters.
"""

from __future__ import annotations

from dataclasses import dataclass

from c2kit.errors import UserError


class PrecisionError(UserError):
    """The requested precision cannot run on this machine."""


@dataclass(frozen=True)
class Precision:
    """Resolved precision: autocast mode, where to train, and the dtype of compute and non-quantized weights."""

    name: str  # "fp16", "bf16" or "fp32"
    use_cpu: bool

    @property
    def fp16(self) -> bool:
        return self.name == "fp16"

    @property
    def bf16(self) -> bool:
        return self.name == "bf16"

    @property
    def torch_dtype(self):
        import torch

        return {"fp16": torch.float16, "bf16": torch.bfloat16, "fp32": torch.float32}[self.name]


def resolve_precision(requested: str, *, cuda: bool | None = None, bf16_supported: bool | None = None) -> Precision:
    """``auto`` -> bf16 on a GPU that has it, fp16 on one that does not (T4), fp32 on CPU.

    ``cuda`` and ``bf16_supported`` default to what torch reports (parameters for tests).
    """
    import torch

    if cuda is None:
        cuda = torch.cuda.is_available()
    if bf16_supported is None:
        bf16_supported = cuda and torch.cuda.is_bf16_supported()
    if requested == "auto":
        requested = ("bf16" if bf16_supported else "fp16") if cuda else "fp32"
    if requested == "fp16" and not cuda:
        raise PrecisionError("precision fp16 needs a CUDA GPU (there is no fp16 autocast with a grad scaler on "
                             "CPU); use precision fp32 or auto")
    if requested == "bf16" and cuda and not bf16_supported:
        raise PrecisionError("this GPU has no bf16 (e.g. a T4): use precision fp16 or auto")
    if requested not in ("fp16", "bf16", "fp32"):
        raise PrecisionError(f"unknown precision {requested!r}; use auto, fp16, bf16 or fp32")
    return Precision(requested, use_cpu=not cuda)


def cast_trainable_params_to_fp32(model) -> list[str]:
    """Cast every trainable floating-point parameter that is not fp32 to fp32; return their names.

    Call it after ``DPOTrainer(...)`` and before ``trainer.train()`` (the optimizer is created in ``train``,
    so it sees the fp32 tensors). Frozen weights, including the 4-bit base, are left alone.
    """
    import torch

    cast = []
    for name, param in model.named_parameters():
        if param.requires_grad and param.is_floating_point() and param.dtype != torch.float32:
            param.data = param.data.float()
            cast.append(name)
    return cast

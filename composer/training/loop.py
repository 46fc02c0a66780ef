"""One training loop for every model in composer.

A model is trained by handing :func:`train` a :class:`TrainTask` (what to build, how to
batch, what the loss is) and a :class:`TrainConfig` (how long, how fast).  The loop does the
rest, the same way for every level:

* AdamW with linear warm-up then cosine decay to ``min_lr_ratio`` (10%) of ``lr``, gradient
  clipping at 1.0;
* an exponential moving average (EMA) of the weights, which is what gets shipped;
* a validation loss every ``valid_every`` steps, on the task's fixed validation batches,
  with the EMA weights and a fixed generator (so figures are comparable across runs);
* a log file ``OUT/train/log.jsonl`` (one JSON object per line) and a line on stdout;
* checkpoints every ``checkpoint_every`` steps into ``OUT/train/``: ``state.safetensors``
  (weights, EMA weights, AdamW moments, generator state, all tensors; no pickle) and
  ``state.json`` (step, figures, config; also inside the safetensors file, so the checkpoint
  is one atomic rename); ``resume=True`` picks up from there, bit-for-bit the same data stream;
* the final model (EMA weights) saved with :func:`composer.io.checkpoint.save_checkpoint` into
  ``OUT/`` (``config.json`` + ``model.safetensors``), with the training figures in the config;
* several processes when launched under ``torchrun`` (``WORLD_SIZE`` > 1): DDP with the
  ``gloo`` backend on CPU (``nccl`` when CUDA is used), each rank drawing its own batches
  from a generator seeded ``seed + 1000 * rank``; rank 0 alone writes files.

The effective batch is ``batch_size * world_size``.

A run changes nothing outside itself: the torch thread count (``config.num_threads``) and
the global random state (seeded with ``config.seed``, which makes the initial weights and
any randomness a net draws itself, such as dropout) are the run's while it trains and the
caller's again when it returns.
"""
from __future__ import annotations

import contextlib
import json
import math
import os
import time
from dataclasses import asdict, dataclass, fields, is_dataclass, replace
from pathlib import Path
from typing import Any, Callable, Iterator, Protocol, runtime_checkable

import torch
import torch.distributed as dist
from safetensors import safe_open
from safetensors.torch import save_file

from composer.errors import ModelError
from composer.io.atomic import atomic_path
from composer.io.checkpoint import save_checkpoint
from composer.nets.blocks import count_parameters
from composer.seeds import RANK_SEED_STRIDE, RESUME_STEP_STRIDE, VALID_NOISE_OFFSET


@runtime_checkable
class TrainTask(Protocol):
    """What a level provides to the training loop.

    kind: the checkpoint kind written into config.json ("form", "chords", "notes"...).
    model_config(): constructor keyword arguments of the network (JSON-able).
    build_model(): a fresh network built from ``model_config()``.
    loss(model, batch, generator): scalar float32 loss tensor; ``model`` may be wrapped in
        DDP, so call it, do not reach into its attributes; draw all randomness (noise,
        times, condition dropout) from ``generator``.
    train_batches(batch_size, generator): an endless iterator of training batches, drawn
        with ``generator`` (whose state is checkpointed, so resuming repeats the stream) or
        from a stream of the task's own (see :class:`HasStreamState`).
    valid_batches(batch_size): a finite, deterministic list of validation batches; empty
        when the task is judged otherwise (the validation loss is then NaN).
    extra_config(): anything else to keep in config.json (data, split, vocabularies...).
    """

    kind: str

    def model_config(self) -> dict[str, Any]: ...

    def build_model(self) -> torch.nn.Module: ...

    def loss(self, model: torch.nn.Module, batch: Any, generator: torch.Generator) -> torch.Tensor: ...

    def train_batches(self, batch_size: int, generator: torch.Generator) -> Iterator[Any]: ...

    def valid_batches(self, batch_size: int) -> list[Any]: ...

    def extra_config(self) -> dict[str, Any]: ...


# Optional parts of a task: the loop uses them when a task has them.
@runtime_checkable
class HasParamGroups(Protocol):
    """param_groups(model): the AdamW parameter groups to train, each a dict with "params" and
    an optional "lr_scale" (the group's rate is the schedule's times it; default 1).  Without
    it every parameter of the model trains at the schedule's rate."""

    def param_groups(self, model: torch.nn.Module) -> list[dict[str, Any]]: ...


@runtime_checkable
class HasStreamState(Protocol):
    """A task whose batches come from a random stream of its own rather than the loop's
    generator: the stream's state (JSON-able) is checkpointed with the loop's, so that a
    resumed run draws the same batches."""

    def stream_state(self) -> dict[str, Any]: ...

    def load_stream_state(self, state: dict[str, Any]) -> None: ...


@runtime_checkable
class HasDeviceData(Protocol):
    """to_device(device): the task keeps its prepared data on the device and cuts batches there."""

    def to_device(self, device: torch.device) -> None: ...


@dataclass(frozen=True)
class TrainConfig:
    """Hyper-parameters of one run.

    steps: optimiser steps in total (default 4000).
    batch_size: examples per step per process (default 16).
    lr: peak AdamW learning rate (default 1e-3); warmup: linear warm-up steps (default 200).
    min_lr_ratio: the cosine decay ends at ``lr * min_lr_ratio`` (default 0.1; 1.0 keeps the
        rate constant after the warm-up).
    weight_decay: AdamW weight decay (default 0.01).
    ema_decay: decay of the weight EMA (default 0.999; 0 disables it).
    valid_every / checkpoint_every / log_every: in steps (defaults 250 / 250 / 25).
    seed: seeds the model's initial weights and the data/noise generator (default 0).
    num_threads: torch CPU threads per process while the run trains (default 1; this machine
        has 2 shared cores); None keeps the caller's setting.
    device: "cpu" or "cuda" (default "cpu"; chosen once, never a hidden cuda default).
    """

    steps: int = 4000
    batch_size: int = 16
    lr: float = 1e-3
    warmup: int = 200
    min_lr_ratio: float = 0.1
    weight_decay: float = 0.01
    ema_decay: float = 0.999
    valid_every: int = 250
    checkpoint_every: int = 250
    log_every: int = 25
    seed: int = 0
    num_threads: int | None = 1
    device: str = "cpu"


@dataclass(frozen=True)
class TrainResult:
    """What :func:`train` returns: final step, last validation loss (EMA weights), seconds
    spent in this call, and the folder of the saved model."""

    step: int
    valid_loss: float
    train_loss: float
    wall_seconds: float
    out_dir: Path


def _lr_at(step: int, config: TrainConfig) -> float:
    if step < config.warmup:
        return config.lr * (step + 1) / config.warmup
    progress = (step - config.warmup) / max(1, config.steps - config.warmup)
    floor = config.min_lr_ratio
    return config.lr * (floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * min(1.0, progress))))


def _dist_info() -> tuple[int, int]:
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    return rank, world


def _save_state(folder: Path, step: int, model: torch.nn.Module, ema: torch.nn.Module,
                opt: torch.optim.Optimizer, gen: torch.Generator, info: dict[str, Any]) -> None:
    """Everything needed to resume, as tensors in safetensors with ``info`` (step, figures,
    config) in its metadata, so one rename replaces the whole checkpoint; ``state.json`` is
    the same ``info`` for people to read."""
    tensors: dict[str, torch.Tensor] = {}
    for k, v in model.state_dict().items():
        tensors[f"model.{k}"] = v.detach().cpu().contiguous()
    for k, v in ema.state_dict().items():
        tensors[f"ema.{k}"] = v.detach().cpu().contiguous()
    opt_state = opt.state_dict()
    for idx, state in opt_state["state"].items():
        for name, value in state.items():
            tensors[f"opt.{idx}.{name}"] = torch.as_tensor(value).detach().cpu().contiguous()
    tensors["generator"] = gen.get_state()
    text = json.dumps({"step": step, **info}, indent=2) + "\n"
    with atomic_path(folder / "state.safetensors", suffix=".safetensors") as tmp:
        save_file(tensors, str(tmp), metadata={"info": text})
    with atomic_path(folder / "state.json") as tmp:
        tmp.write_text(text)


def _has_state(folder: Path) -> bool:
    return (folder / "state.safetensors").is_file()


def _load_state(folder: Path, model: torch.nn.Module, ema: torch.nn.Module,
                opt: torch.optim.Optimizer, gen: torch.Generator) -> dict[str, Any]:
    with safe_open(str(folder / "state.safetensors"), "pt") as fh:
        meta = fh.metadata() or {}
        tensors = {k: fh.get_tensor(k) for k in fh.keys()}
    # checkpoints written before the info moved into the safetensors file keep it in state.json
    info = json.loads(meta["info"] if "info" in meta else (folder / "state.json").read_text())
    try:
        model.load_state_dict({k[6:]: v for k, v in tensors.items() if k.startswith("model.")})
        ema.load_state_dict({k[4:]: v for k, v in tensors.items() if k.startswith("ema.")})
    except RuntimeError as err:
        raise ModelError(f"{folder}: the checkpoint does not fit this model "
                         f"({str(err).strip().splitlines()[0]}); start afresh without --resume") from None
    opt_state = opt.state_dict()
    state: dict[int, dict[str, torch.Tensor]] = {}
    for key, value in tensors.items():
        if key.startswith("opt."):
            _, idx, name = key.split(".", 2)
            state.setdefault(int(idx), {})[name] = value
    opt_state["state"] = state
    opt.load_state_dict(opt_state)
    gen.set_state(tensors["generator"])
    return info


@torch.no_grad()
def _to_device(batch: Any, device: torch.device) -> Any:
    """A batch (a dataclass of tensors, or a tensor) on ``device``; already there: unchanged."""
    if isinstance(batch, torch.Tensor):
        return batch.to(device)
    if is_dataclass(batch):
        moved = {f.name: getattr(batch, f.name) for f in fields(batch)}
        if all(not isinstance(v, torch.Tensor) or v.device == device for v in moved.values()):
            return batch
        return type(batch)(**{k: v.to(device) if isinstance(v, torch.Tensor) else v
                              for k, v in moved.items()})
    return batch


def _validate(task: TrainTask, model: torch.nn.Module, batches: list[Any], seed: int,
              rank: int, world: int) -> float:
    """Mean loss over this rank's share of the validation batches, averaged over ranks."""
    model.eval()
    gen = torch.Generator().manual_seed(seed + VALID_NOISE_OFFSET)
    total = torch.zeros(2, dtype=torch.float64)
    for i, batch in enumerate(batches):
        if i % world != rank:
            continue
        total[0] += float(task.loss(model, batch, gen))
        total[1] += 1
    if world > 1:
        dist.all_reduce(total)
    model.train()
    return float(total[0] / total[1].clamp_min(1))


@contextlib.contextmanager
def _run_scope(config: TrainConfig, device: torch.device) -> Iterator[None]:
    """The run's thread count and a global random state seeded with ``config.seed`` while
    it trains; the caller's thread count and random state again afterwards."""
    threads = torch.get_num_threads()
    cuda = [device.index or 0] if device.type == "cuda" else []
    with torch.random.fork_rng(devices=cuda):
        if config.num_threads is not None:
            torch.set_num_threads(max(1, config.num_threads))
        try:
            torch.manual_seed(config.seed)  # the initial weights (identical on every rank)
            yield
        finally:
            torch.set_num_threads(threads)


def train(task: TrainTask, config: TrainConfig, out_dir: str | os.PathLike,
          resume: bool = True, stop_at: int | None = None,
          echo: Callable[[str], None] = print) -> TrainResult:
    """Train ``task``'s model for ``config.steps`` steps; save it into ``out_dir``.

    ``out_dir/train/`` holds the log and the resumable state; with ``resume=True`` an
    existing state there is continued (a finished run returns at once after re-saving).
    Under ``torchrun`` the process group is initialised here (gloo on CPU) and torn down
    at the end.  ``stop_at`` (optional) ends this call after that step with a checkpoint
    but without saving the final model, as if the run were interrupted there (the learning
    rate schedule still runs to ``config.steps``).  ``echo`` receives each log line (rank 0
    only; default ``print``).  Returns a :class:`TrainResult`.
    """
    rank, world = _dist_info()
    started_group = False
    if world > 1 and not dist.is_initialized():
        dist.init_process_group("nccl" if config.device == "cuda" else "gloo")
        started_group = True
    device = torch.device(config.device)
    try:
        with _run_scope(config, device):
            return _train(task, config, Path(out_dir), resume, stop_at, echo, device, rank, world)
    finally:
        if started_group:
            dist.destroy_process_group()


def _train(task: TrainTask, config: TrainConfig, out_dir: Path, resume: bool, stop_at: int | None,
           echo: Callable[[str], None], device: torch.device, rank: int, world: int) -> TrainResult:
    state_dir = out_dir / "train"
    if rank == 0:
        state_dir.mkdir(parents=True, exist_ok=True)

    model = task.build_model().to(device)
    ema = task.build_model().to(device)
    ema.load_state_dict(model.state_dict())
    ema.requires_grad_(False)
    groups = (task.param_groups(model) if isinstance(task, HasParamGroups)
              else [{"params": list(model.parameters())}])
    for group in groups:
        group.setdefault("lr_scale", 1.0)
    opt = torch.optim.AdamW(groups, lr=config.lr, weight_decay=config.weight_decay)
    gen = torch.Generator().manual_seed(config.seed + RANK_SEED_STRIDE * rank)

    step = 0
    history: list[dict[str, Any]] = []
    if resume and _has_state(state_dir):
        info = _load_state(state_dir, model, ema, opt, gen)
        if world > 1:
            # rank r's stream continues from its own generator; only rank 0's is saved, so
            # re-derive the others deterministically from the step.
            gen = torch.Generator().manual_seed(
                config.seed + RANK_SEED_STRIDE * rank + RESUME_STEP_STRIDE * info["step"])
        if isinstance(task, HasStreamState) and "task_stream" in info:
            task.load_stream_state(info["task_stream"])
        step = int(info["step"])
        history = list(info.get("history", []))
    n_params = count_parameters(model)

    net: torch.nn.Module = model
    if world > 1:
        net = torch.nn.parallel.DistributedDataParallel(model)

    log_path = state_dir / "log.jsonl"

    def log(record: dict[str, Any]) -> None:
        if rank != 0:
            return
        with open(log_path, "a") as fh:
            fh.write(json.dumps(record) + "\n")
        echo(" ".join(f"{k}={v:.5g}" if isinstance(v, float) else f"{k}={v}" for k, v in record.items()))

    if isinstance(task, HasDeviceData):
        task.to_device(device)
    valid = [_to_device(b, device) for b in task.valid_batches(config.batch_size)]
    batches = task.train_batches(config.batch_size, gen)
    t0 = time.time()
    wall_before = float(history[-1]["wall_s"]) if history else 0.0
    running, count = 0.0, 0
    valid_loss = float(history[-1]["valid_loss"]) if history else float("nan")
    train_loss = float("nan")
    if step == 0:
        log({"event": "start", "kind": task.kind, "params": n_params, "world_size": world,
             **{k: v for k, v in asdict(config).items()}})
    net.train()
    last = config.steps if stop_at is None else min(config.steps, stop_at)
    while step < last:
        rate = _lr_at(step, config)
        for group in opt.param_groups:
            group["lr"] = rate * group["lr_scale"]
        batch = _to_device(next(batches), device)
        loss = task.loss(net, batch, gen)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        with torch.no_grad():
            decay = min(config.ema_decay, (1 + step) / (10 + step))
            for pe, pm in zip(ema.parameters(), model.parameters()):
                pe.lerp_(pm, 1 - decay)
            for be, bm in zip(ema.buffers(), model.buffers()):
                be.copy_(bm)
        step += 1
        running += float(loss.detach())
        count += 1
        if step % config.log_every == 0 or step == config.steps:
            train_loss = running / count
            log({"step": step, "loss": train_loss, "lr": _lr_at(step - 1, config),
                 "wall_s": round(wall_before + time.time() - t0, 1)})
            running, count = 0.0, 0
        if valid and (step % config.valid_every == 0 or step == config.steps):
            valid_loss = _validate(task, ema, valid, config.seed, rank, world)
            record = {"step": step, "valid_loss": valid_loss,
                      "wall_s": round(wall_before + time.time() - t0, 1)}
            history.append(record)
            log({"event": "valid", **record})
        if rank == 0 and (step % config.checkpoint_every == 0 or step == last):
            saved = {"history": history, "config": asdict(config), "world_size": world}
            if isinstance(task, HasStreamState):
                saved["task_stream"] = task.stream_state()
            _save_state(state_dir, step, model, ema, opt, gen, saved)
        if world > 1 and step % config.checkpoint_every == 0:
            dist.barrier()
    wall = round(wall_before + time.time() - t0, 1)
    if rank == 0 and step == config.steps:
        extra = {"training": {"steps": step, "valid_loss": valid_loss, "wall_seconds": wall,
                              "world_size": world, "params": n_params,
                              "config": asdict(config), "history": history},
                 **task.extra_config()}
        save_checkpoint(out_dir, ema.cpu(), task.kind, task.model_config(), extra)
    if world > 1:
        dist.barrier()
    return TrainResult(step, valid_loss, train_loss, wall, out_dir)


def with_overrides(config: TrainConfig, **changes: Any) -> TrainConfig:
    """``config`` with the non-None ``changes`` applied."""
    return replace(config, **{k: v for k, v in changes.items() if v is not None})


__all__ = ["TrainTask", "HasParamGroups", "HasStreamState", "HasDeviceData", "TrainConfig", "TrainResult",
           "train", "with_overrides"]

"""The training loop: shared-encoder autoencoders A and B trained together on augmented faces.

One iteration = one batch of each side: warped faces in, clean faces as targets, the masked
DSSIM + MSE loss of both autoencoders summed, one Adam step over encoder + both decoders.

Files in the model directory:

- ``checkpoint.npz``: weights, optimizer state, iteration, seed, data description (atomic, every
  ``save_interval`` iterations, at the end and on Ctrl-C). A second run with the same directory
  resumes from it; a checkpoint of another config is refused (CheckpointError) and left alone.
  ``grow_from`` starts a new directory from a smaller config's checkpoint instead (growing.py).
- ``preview.png``: A | A->A | A->B | B | B->B | B->A for a few fixed faces (every ``preview_interval``).
- ``loss.csv`` and ``loss.png``: loss per iteration and its plot.

Batches are prepared by a background thread (dataset.BatchPrefetcher), or with ``workers`` by a
pool of processes (parallel_batches.ParallelBatches, for GPU machines), while Keras runs the train
step, and they depend only on (seed, iteration), so a resumed run continues exactly. The train
step (train_step.py) is ``keras.ops`` only: the same training runs on TensorFlow, JAX or PyTorch
(KERAS_BACKEND, see backend.py) and the checkpoint of one backend resumes on another. A side may
be face folders or face packs (face_pack.py). ``minutes`` stops the loop at a wall-clock budget.
"""

from __future__ import annotations

import logging
import math
import signal
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
from tqdm import tqdm

from faceswap.errors import FaceswapError
from faceswap.faces.masks import MaskSettings
from faceswap.model.architecture import CONFIGS, Autoencoders, build_autoencoders, get_config
from faceswap.settings import setting
from faceswap.training.augmentation import AugmentSettings
from faceswap.training.backend import (PRECISIONS, accelerators, configure_threads, cpu_has_bfloat16,
                                       resolve_precision)
from faceswap.training import patch_gan, true_face
from faceswap.training.checkpoint import Checkpoint, checkpoint_path, load_checkpoint, read_checkpoint, save_checkpoint
from faceswap.training.dataset import BatchMaker, BatchPrefetcher
from faceswap.training.face_pack import load_side
from faceswap.training.growing import grow_networks
from faceswap.training.loss_log import LossLog
from faceswap.training.losses import LossSettings
from faceswap.training.parallel_batches import ParallelBatches
from faceswap.training.preview import preview_grid, write_preview
from faceswap.training.train_step import make_predict, make_train_step, trainable_variables

logger = logging.getLogger(__name__)

PREVIEW_NAME = "preview.png"
LOSS_CSV_NAME = "loss.csv"
LOSS_PLOT_NAME = "loss.png"


@dataclass
class TrainSettings:
    """How long and how to train (command line: --batch-size ...; environment: FACESWAP_TRAIN_BATCH_SIZE ...)."""

    config: str = setting("lite", "model config", choices=tuple(CONFIGS))
    iterations: int = setting(100_000, "train until the model has done this many iterations in total "
                                       "(a resumed run continues up to this number)")
    batch_size: int = setting(16, "faces per side per iteration")
    save_interval: int = setting(500, "write the checkpoint every this many iterations")
    preview_interval: int = setting(500, "write preview.png and loss.png every this many iterations")
    learning_rate: float = setting(5e-5, "Adam learning rate (peak, after the warm-up)")
    warmup_iterations: int = setting(0, "raise the learning rate linearly from 0 over this many iterations")
    decay_floor: float = setting(1.0, "cosine decay of the learning rate from the warm-up to the last iteration, "
                                      "down to this share of the peak (1 = no decay)")
    decay_end: int = setting(0, "iteration at which the decay reaches the floor (0 = --iterations); lets a phase "
                                "that stops early (a pretraining phase) follow the schedule of the whole run")
    balance: bool = setting(False, "draw batches balanced over identities and head yaw (training/sampling.py) "
                                   "instead of shuffled epochs")
    lr_dropout: float = setting(1.0, "learning-rate dropout: the share of the weights each step updates, a "
                                     "random draw per weight (DeepFaceLab's lr_dropout, 0.3 when on, for sharpness "
                                     "late in training; training/lr_dropout.py); 1 = off")
    beta_1: float = setting(0.5, "Adam beta 1")
    beta_2: float = setting(0.999, "Adam beta 2")
    seed: int = setting(0, "seed of the initial weights, data order and augmentation (kept in the checkpoint)")
    prefetch: int = setting(4, "batches augmented ahead in a background thread (0 = in the training loop)")
    oversample: float = setting(1.5, "working resolution of the loaded faces, times the model's")
    preview_faces: int = setting(6, "faces per side in preview.png")
    threads: int = setting(0, "TensorFlow (or PyTorch) threads per operation (0 = the library's choice: all cores)")
    workers: int = setting(0, "augmentation worker processes (parallel_batches.py; for GPU machines with many "
                              "cores); 0 = one background thread")
    minutes: float = setting(0.0, "wall-clock budget of the run in minutes, loading and compiling included: the loop "
                                  "stops at it and the checkpoint is saved (0 = no limit)")
    precision: str = setting("float32", "compute precision: float32, mixed_bfloat16 (bfloat16 maths, float32 "
                                        "weights; ~1.5x less CPU per iteration on CPUs with AVX512_BF16 or AMX, "
                                        "~2.8x MORE on CPUs without, which emulate it; the checkpoint is the same), "
                                        "or auto: mixed_bfloat16 on a GPU or a CPU with bfloat16 instructions, else "
                                        "float32 (training/backend.py; the default model's recipe)",
                             choices=PRECISIONS)
    grow_from: str = setting("", "start this model from a trained checkpoint (file or model directory) of a smaller "
                                 "config, e.g. lite96 -> lite96res or lite96wide (training/growing.py); its iteration "
                                 "count and seed carry on, Adam starts afresh (ramped by --warmup-iterations); "
                                 "ignored once --model-dir holds a checkpoint of its own")


@dataclass
class TrainResult:
    """What a call to ``Trainer.run`` did."""

    model_dir: Path
    start_iteration: int
    iteration: int
    loss_a: float = math.nan
    loss_b: float = math.nan
    seconds: float = 0.0
    training_seconds: float = 0.0
    interrupted: bool = False
    stopped_by_budget: bool = False
    losses: list[tuple[int, float, float]] = field(default_factory=list)

    @property
    def iterations_per_second(self) -> float:
        done = self.iteration - self.start_iteration
        return done / self.seconds if self.seconds > 0 else 0.0


def set_precision(precision: str) -> None:
    """Keras' global dtype policy for the networks built next ('float32' or 'mixed_bfloat16').
    Weights stay float32 either way, so checkpoints do not depend on it."""
    import keras

    keras.mixed_precision.set_global_policy(precision)


def seed_weight_initialisation(seed: int) -> None:
    """Make the initial weights a function of ``seed`` (Keras/TensorFlow/NumPy global seeds)."""
    import keras

    keras.utils.set_random_seed(seed)


def learning_rate_at(iteration: int, settings: TrainSettings, fresh_moments_from: int | None = None) -> float:
    """Learning rate of iteration ``iteration`` (0-based): linear warm-up over ``warmup_iterations``,
    then cosine decay to ``decay_floor`` x the peak at ``settings.decay_end`` (else ``settings.iterations``)
    (Loshchilov & Hutter, SGDR, 2017; a warm-up as in Goyal et al., 2017).

    ``fresh_moments_from``: the iteration at which Adam's moments started afresh (a run resumed from
    a compact checkpoint, which has no optimizer state). The scheduled rate is then ramped up again
    linearly over ``warmup_iterations`` from that iteration: Adam's first steps on zero moments move
    every weight by about the full rate, which undoes much of a trained model at a rate meant for
    settled moments."""
    peak = settings.learning_rate
    warmup = max(0, settings.warmup_iterations)
    ramp = 1.0
    if warmup and fresh_moments_from is not None and 0 <= iteration - fresh_moments_from < warmup:
        ramp = (iteration - fresh_moments_from + 1) / warmup
    if warmup and iteration < warmup:
        return peak * min((iteration + 1) / warmup, ramp)
    return ramp * _scheduled_rate(iteration, settings, peak, warmup)


def _scheduled_rate(iteration: int, settings: TrainSettings, peak: float, warmup: int) -> float:
    """The schedule past the first warm-up: constant, or cosine decay to ``decay_floor`` x ``peak``."""
    if settings.decay_floor >= 1.0:
        return peak
    span = max(1, (settings.decay_end or settings.iterations) - warmup)
    progress = min(1.0, max(0.0, (iteration - warmup) / span))
    floor = max(0.0, settings.decay_floor)
    return peak * (floor + (1.0 - floor) * 0.5 * (1.0 + math.cos(math.pi * progress)))


def make_optimizer(settings: TrainSettings):
    """Adam with the settings' rate and betas; with ``lr_dropout`` < 1 the learning-rate dropout
    variant (training/lr_dropout.py: the same variables, so the same checkpoints)."""
    import keras

    if settings.lr_dropout < 1.0:
        from faceswap.training.lr_dropout import LearningRateDropoutAdam

        return LearningRateDropoutAdam(keep=settings.lr_dropout, learning_rate=settings.learning_rate,
                                       beta_1=settings.beta_1, beta_2=settings.beta_2)
    return keras.optimizers.Adam(learning_rate=settings.learning_rate, beta_1=settings.beta_1,
                                 beta_2=settings.beta_2)


# training-only parts: checkpoint name -> (what the option is called, LossSettings field)
TRAINING_PARTS = {true_face.DISCRIMINATOR_NAME: ("true face power", "true_face_power"),
                  **{name: ("GAN power", "gan_power") for name in patch_gan.DISCRIMINATOR_NAMES.values()}}


class _StopOnSigint:
    """While active, the first Ctrl-C (SIGINT) asks the loop to save and stop; a second one aborts."""

    def __init__(self, event: threading.Event) -> None:
        self.event = event
        self.previous = None

    def _handle(self, signum, frame) -> None:
        if self.event.is_set():
            raise KeyboardInterrupt
        logger.warning("Ctrl-C: saving the checkpoint and stopping (press again to abort without saving)")
        self.event.set()

    def __enter__(self) -> "_StopOnSigint":
        if threading.current_thread() is threading.main_thread():
            self.previous = signal.signal(signal.SIGINT, self._handle)
        return self

    def __exit__(self, *exc_info) -> None:
        if self.previous is not None:
            signal.signal(signal.SIGINT, self.previous)


class Trainer:
    """Train (or resume training) the autoencoders of ``settings.config`` into ``model_dir``.

    side_a: face folders of identity A (may hold many people: any face -> B); side_b: face
    folders of the target identity B. Nothing is written before the data and any existing
    checkpoint have been checked.
    """

    def __init__(self, side_a: list[str | Path], side_b: list[str | Path], model_dir: str | Path,
                 settings: TrainSettings | None = None, augment: AugmentSettings | None = None,
                 loss: LossSettings | None = None, mask: MaskSettings | None = None,
                 progress: bool = True) -> None:
        self.side_a = [Path(p) for p in side_a]
        self.side_b = [Path(p) for p in side_b]
        self.model_dir = Path(model_dir)
        self.settings = settings or TrainSettings()
        self.augment = augment or AugmentSettings()
        self.loss = loss or LossSettings()
        self.mask = mask or MaskSettings()
        self.progress = progress
        self.stop_event = threading.Event()
        self._check_settings()

    def _check_settings(self) -> None:
        settings = self.settings
        try:
            get_config(settings.config)
        except ValueError as error:
            raise FaceswapError(str(error)) from None
        for name in ("iterations", "batch_size", "save_interval", "preview_interval"):
            if getattr(settings, name) < 1:
                raise FaceswapError(f"--{name.replace('_', '-')} must be at least 1, not {getattr(settings, name)}")
        if not 0.0 < settings.lr_dropout <= 1.0:   # also refuses NaN
            raise FaceswapError(f"--lr-dropout is the share of the weights each step updates, in (0, 1] "
                                f"(1 = off), not {settings.lr_dropout}")
        for name in ("dssim_weight", "mse_weight", "eyes_mouth_weight", "gradient_difference_weight",
                     *(key for _, key in TRAINING_PARTS.values())):
            if not getattr(self.loss, name) >= 0:   # also refuses NaN
                raise FaceswapError(f"--{name.replace('_', '-')} must be 0 (off) or more, not {getattr(self.loss, name)}")
        if self.loss.gan_discriminator not in patch_gan.DISCRIMINATOR_NAMES:
            raise FaceswapError(f"--gan-discriminator is one of {', '.join(patch_gan.DISCRIMINATOR_NAMES)}, "
                                f"not {self.loss.gan_discriminator!r}")
        if self.model_dir.exists() and not self.model_dir.is_dir():
            raise FaceswapError(f"{self.model_dir}: the model directory is a file")

    def stop(self) -> None:
        """Ask a running ``run`` to save and return after the current iteration (thread-safe)."""
        self.stop_event.set()

    def _training_parts(self, config) -> dict:
        """The training-only parts this run trains, {checkpoint name: built Keras layer}, in the
        optimizer's order: the code discriminator (true face power), the patch discriminator (GAN power)."""
        parts = {}
        if self.loss.true_face_power > 0:
            parts[true_face.DISCRIMINATOR_NAME] = true_face.build_code_discriminator(config)
        if self.loss.gan_power > 0:
            kind = self.loss.gan_discriminator
            parts[patch_gan.DISCRIMINATOR_NAMES[kind]] = patch_gan.build_patch_discriminator(config, kind)
        return parts

    def _restore_training_parts(self, checkpoint: Checkpoint, parts: dict) -> None:
        """Load the training-only ``parts`` from ``checkpoint``: one it lacks starts afresh (INFO); one
        it has that this run does not train is dropped at the next save (WARNING)."""
        for name, (what, key) in TRAINING_PARTS.items():
            if name in parts and not checkpoint.restore_extra(name, parts[name]):
                logger.info("%s has no %s: it starts afresh (%s %g)", checkpoint.path, name.replace("_", " "),
                            what, getattr(self.loss, key))
            elif name not in parts and checkpoint.extra_count(name) and getattr(self.loss, key) > 0:
                logger.warning("%s has a trained %s that this run does not use (it trains the %s "
                               "discriminator): the next save leaves it out", checkpoint.path,
                               name.replace("_", " "), self.loss.gan_discriminator)
            elif name not in parts and checkpoint.extra_count(name):
                used = checkpoint.meta.get(key, "> 0")
                logger.warning("%s has a trained %s (%s %s) that this run does not use (%s 0): the next save "
                               "leaves it out; pass --%s %s to keep it", checkpoint.path, name.replace("_", " "), what,
                               used, what, key.replace("_", "-"), used if isinstance(used, (int, float)) else "P")

    def run(self) -> TrainResult:
        settings = self.settings
        run_started = time.perf_counter()
        deadline = run_started + settings.minutes * 60.0 if settings.minutes > 0 else math.inf
        config = get_config(settings.config)
        checkpoint = load_checkpoint(self.model_dir)
        if checkpoint is not None:
            checkpoint.check_config(config)
        grow_source = self._grow_source() if checkpoint is None else None
        if checkpoint is not None and settings.grow_from:
            logger.info("%s holds a checkpoint: resuming it (--grow-from %s is for the first run)",
                        self.model_dir, settings.grow_from)
        face_set_a = load_side("a", self.side_a, config.layout, settings.oversample, self.progress)
        face_set_b = load_side("b", self.side_b, config.layout, settings.oversample, self.progress)

        configure_threads(settings.threads)
        origin = checkpoint if checkpoint is not None else grow_source
        seed = int(origin.meta.get("seed", settings.seed)) if origin is not None else settings.seed
        seed_weight_initialisation(seed)
        precision = resolve_precision(settings.precision)
        if precision != settings.precision:
            logger.info("precision auto: %s (%s)", precision, "an accelerator" if accelerators() else
                        "this CPU has bfloat16 instructions" if cpu_has_bfloat16() else
                        "this CPU has no bfloat16 instructions")
        set_precision(precision)
        networks = build_autoencoders(config)
        extras = self._training_parts(config)
        optimizer = make_optimizer(settings)
        # The training-only parts' variables follow the networks' (checkpoint.optimizer_groups).
        groups = {"networks": trainable_variables(networks),
                  **{name: list(part.trainable_variables) for name, part in extras.items()}}
        variables = [variable for part in groups.values() for variable in part]
        start = 0
        fresh_moments_from: int | None = None
        meta: dict = {"created": datetime.now(timezone.utc).isoformat(timespec="seconds"), "training_seconds": 0.0}
        if checkpoint is not None:
            checkpoint.restore_networks(networks)
            self._restore_training_parts(checkpoint, extras)
            checkpoint.restore_optimizer(optimizer, groups)
            start = checkpoint.iteration
            if checkpoint.compact:
                fresh_moments_from = start
                if settings.warmup_iterations:
                    logger.info("Adam's moments start afresh: the learning rate ramps up again over %d iterations",
                                settings.warmup_iterations)
            meta.update({k: checkpoint.meta[k] for k in ("created", "training_seconds", "grown_from")
                         if k in checkpoint.meta})
            if seed != settings.seed:
                logger.info("resuming with the checkpoint's seed %d", seed)
            if int(checkpoint.meta.get("batch_size", settings.batch_size)) != settings.batch_size:
                logger.warning("batch size changed from %s to %d: the data order differs from the first run",
                               checkpoint.meta.get("batch_size"), settings.batch_size)
            logger.info("resuming %s from iteration %d", checkpoint.path, start)
        elif grow_source is not None:
            grown = grow_networks(grow_source, networks)
            optimizer.build(variables)
            start = fresh_moments_from = grow_source.iteration
            meta.update({k: grow_source.meta[k] for k in ("created", "training_seconds") if k in grow_source.meta})
            meta["grown_from"] = {"path": str(grow_source.path), "config": grow_source.config.name,
                                  "iteration": grow_source.iteration, **grown.to_dict()}
        else:
            optimizer.build(variables)
        self.model_dir.mkdir(parents=True, exist_ok=True)
        for stale in self.model_dir.glob(".*.tmp"):  # torn writes of a run that was killed mid-save
            stale.unlink()

        sides = {"a": face_set_a.describe(), "b": face_set_b.describe()}
        loss_log = LossLog(self.model_dir / LOSS_CSV_NAME, keep_until=start)
        result = TrainResult(self.model_dir, start, start, training_seconds=float(meta["training_seconds"]))
        if start >= settings.iterations:
            logger.info("the model in %s already has %d iterations (asked for %d); nothing to do",
                        self.model_dir, start, settings.iterations)
            return result

        train_step = make_train_step(networks, optimizer, self.loss, extras.get(true_face.DISCRIMINATOR_NAME),
                                     extras.get(patch_gan.DISCRIMINATOR_NAMES[self.loss.gan_discriminator]))
        predict = make_predict(networks)
        previews = self._preview_faces(face_set_a, face_set_b)
        makers = (BatchMaker(face_set_a, settings.batch_size, seed, self.augment, self.mask, settings.balance),
                  BatchMaker(face_set_b, settings.batch_size, seed, self.augment, self.mask, settings.balance))

        def save(iteration: int) -> None:
            import keras

            meta.update({"iteration": iteration, "seed": seed, "batch_size": settings.batch_size,
                         "training_seconds": round(result.training_seconds, 3), "sides": sides,
                         "learning_rate": settings.learning_rate, "lr_dropout": settings.lr_dropout,
                         "true_face_power": self.loss.true_face_power,
                         "gan_power": self.loss.gan_power, "gan_discriminator": self.loss.gan_discriminator,
                         "gradient_difference_weight": self.loss.gradient_difference_weight,
                         "last_learning_rate": float(np.asarray(keras.ops.convert_to_numpy(optimizer.learning_rate))),
                         "updated": datetime.now(timezone.utc).isoformat(timespec="seconds")})
            save_checkpoint(self.model_dir, networks, optimizer, meta, extras)
            loss_log.save()

        def write_previews() -> None:
            self._write_previews(predict, previews)
            loss_log.plot(self.model_dir / LOSS_PLOT_NAME, f"{config.name} model, {self.model_dir.name}")

        iteration = start
        saved_at = start
        started = time.perf_counter()
        clock = started
        bar = tqdm(total=settings.iterations, initial=start, unit="it", desc="training", disable=not self.progress,
                   dynamic_ncols=True, smoothing=0.05)
        try:
            source = (ParallelBatches(makers, start, settings.iterations, settings.workers) if settings.workers > 0
                      else BatchPrefetcher(makers, start, settings.iterations, settings.prefetch))
            with _StopOnSigint(self.stop_event), source as batches:
                while iteration < settings.iterations and not self.stop_event.is_set():
                    if time.perf_counter() >= deadline:
                        result.stopped_by_budget = True
                        logger.info("the %.1f-minute budget is spent at iteration %d", settings.minutes, iteration)
                        break
                    batch_a, batch_b = batches.next()
                    optimizer.learning_rate.assign(learning_rate_at(iteration, settings, fresh_moments_from))
                    loss_a, loss_b = train_step(batch_a.warped, batch_a.target, batch_a.mask, batch_a.eyes_mouth,
                                                batch_b.warped, batch_b.target, batch_b.mask, batch_b.eyes_mouth)
                    loss_a, loss_b = float(loss_a), float(loss_b)
                    if not (math.isfinite(loss_a) and math.isfinite(loss_b)):
                        raise FaceswapError(f"the loss became {loss_a}/{loss_b} at iteration {iteration + 1}; "
                                            f"the last good checkpoint is at iteration {saved_at} in {self.model_dir}")
                    iteration += 1
                    now = time.perf_counter()
                    result.training_seconds += now - clock
                    clock = now
                    loss_log.add(iteration, loss_a, loss_b, result.training_seconds, _adversarial_losses(train_step))
                    result.losses.append((iteration, loss_a, loss_b))
                    result.iteration, result.loss_a, result.loss_b = iteration, loss_a, loss_b
                    bar.update(1)
                    if iteration % 10 == 0 or iteration == settings.iterations:
                        bar.set_postfix_str(f"loss A {loss_a:.4f} B {loss_b:.4f}", refresh=False)
                    if iteration % settings.preview_interval == 0:
                        write_previews()
                        if train_step.last_true_face is not None:
                            logger.info("iteration %d: true-face losses, discriminator %.4f / encoder %.4f",
                                        iteration, *train_step.last_true_face)
                        if train_step.last_gan is not None:
                            logger.info("iteration %d: GAN losses, discriminator %.4f / generator %.4f",
                                        iteration, *train_step.last_gan)
                    if iteration % settings.save_interval == 0:
                        save(iteration)
                        saved_at = iteration
                    clock = time.perf_counter()
            result.interrupted = self.stop_event.is_set() and iteration < settings.iterations
        finally:
            bar.close()
            result.seconds = time.perf_counter() - started
        if saved_at != iteration:
            save(iteration)
        if iteration % settings.preview_interval != 0:
            write_previews()
        logger.info("trained %s to iteration %d (%.2f it/s); loss A %.4f, B %.4f", self.model_dir, iteration,
                    result.iterations_per_second, result.loss_a, result.loss_b)
        return result

    def _grow_source(self):
        """The checkpoint named by ``grow_from`` (a file, or a model directory's checkpoint), or None."""
        if not self.settings.grow_from:
            return None
        source = Path(self.settings.grow_from)
        if source.is_dir():
            source = checkpoint_path(source)
        grow_source = read_checkpoint(source)
        if grow_source.config.input_size != get_config(self.settings.config).input_size:
            raise FaceswapError(f"--grow-from {source}: its config {grow_source.config.name!r} has "
                                f"{grow_source.config.input_size}-px faces, --config {self.settings.config} has "
                                f"{get_config(self.settings.config).input_size}-px ones")
        return grow_source

    def _preview_faces(self, face_set_a, face_set_b) -> tuple[np.ndarray, np.ndarray]:
        count = max(1, self.settings.preview_faces)

        def pick(face_set) -> np.ndarray:
            indices = np.unique(np.linspace(0, len(face_set) - 1, min(count, len(face_set))).astype(int))
            return np.stack([face_set.model_crop(int(i)) for i in indices])

        faces_a, faces_b = pick(face_set_a), pick(face_set_b)
        rows = min(len(faces_a), len(faces_b))
        return faces_a[:rows], faces_b[:rows]

    def _write_previews(self, predict, previews) -> None:
        faces_a, faces_b = previews
        a_to_a, a_to_b, b_to_b, b_to_a = (np.asarray(t).astype(np.float32) for t in predict(faces_a, faces_b))
        grid = preview_grid(faces_a, a_to_a, a_to_b, faces_b, b_to_b, b_to_a)
        write_preview(self.model_dir / PREVIEW_NAME, grid)


def train(side_a, side_b, model_dir, settings: TrainSettings | None = None, **kwargs) -> TrainResult:
    """Convenience wrapper: ``Trainer(...).run()``."""
    return Trainer(side_a, side_b, model_dir, settings, **kwargs).run()


def _adversarial_losses(train_step) -> dict[str, float]:
    """The last step's adversarial losses as loss_log's columns ({} when neither part trains)."""
    losses = {}
    if train_step.last_gan is not None:
        losses["gan_discriminator"], losses["gan_generator"] = train_step.last_gan
    if train_step.last_true_face is not None:
        losses["true_face_discriminator"], losses["true_face_encoder"] = train_step.last_true_face
    return losses

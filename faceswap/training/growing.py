"""Growing a trained model into a bigger config instead of training the bigger one from scratch.

A function-preserving warm start in the spirit of Net2Net (Chen, Goodfellow & Shlens, "Net2Net:
Accelerating Learning via Knowledge Transfer", ICLR 2016): the bigger network takes every weight of
the trained one, and what it adds starts so that it changes the output as little as possible.

- **New residual blocks** in the decoders (``decoder_residual_blocks``, as DeepFaceLab's Quick96 and
  SAEHD "DF-UD" decoders have them): the second convolution of each new block starts at zero
  ("zero-init residual", Goyal et al., "Accurate, Large Minibatch SGD", 2017), so the block begins
  as its trailing LeakyReLU(0.2) alone and the grown model draws what the trained one drew (only
  the negative side of the previous LeakyReLU(0.1) shrinks from 0.1x to 0.02x).
- **Wider Dense layers** (a wider bottleneck, ``encoder_dense``): the old weights fill the leading
  block and the rows that read the new units start at zero (Net2Net's "wider" step with zero
  instead of copied units), so the output is unchanged exactly. Only Dense layers are widened: a
  convolution before a pixel shuffle would mix its channel groups, so other shape changes are refused.

The new parts then learn on top of a model that already has the identity, which on 2 CPU cores is
hours cheaper than training the bigger config from nothing.

Used by ``Trainer`` (``--grow-from``); the result is an ordinary checkpoint of the bigger config.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field

import numpy as np

from faceswap.errors import CheckpointError
from faceswap.model.architecture import Autoencoders
from faceswap.training.checkpoint import Checkpoint

logger = logging.getLogger(__name__)

# The second convolution of a residual block (architecture._residual_block names it <block>_conv2):
# the end of the block's branch, zeroed when the block is new.
RESIDUAL_BRANCH_END = re.compile(r"_residual\d+_\d+_conv2/(kernel|bias)$")


@dataclass
class GrowReport:
    """What ``grow_networks`` did: checkpoint keys copied, keys widened (Dense layers), new keys left at their initialisation,
    new keys zeroed (the residual branches' ends), and the parameter counts before and after."""

    copied: list[str] = field(default_factory=list)
    widened: list[str] = field(default_factory=list)
    initialised: list[str] = field(default_factory=list)
    zeroed: list[str] = field(default_factory=list)
    source_parameters: int = 0
    parameters: int = 0

    def to_dict(self) -> dict:
        return {"copied": len(self.copied), "widened": len(self.widened), "initialised": len(self.initialised),
                "zeroed": len(self.zeroed), "source_parameters": self.source_parameters, "parameters": self.parameters}


_WHAT_GROWS = ("--grow-from goes from a config to a bigger one of the same face size and filter counts "
               "(e.g. lite96 -> lite96res or lite96wide, tiny -> tiny-res)")


def _fits_inside(old: tuple[int, ...], new: tuple[int, ...]) -> bool:
    return len(old) == len(new) and all(o <= n for o, n in zip(old, new))


def _widened(old: np.ndarray, initial: np.ndarray) -> np.ndarray:
    """Net2Net's "wider" step for one Dense weight: ``old`` in the leading block of the bigger ``initial``.

    For a kernel (in, out) the rows that read the new inputs are
    set to zero, so the layer's output does not change when the layer before it gains units; the
    columns of its own new units keep their initialisation (their consumers read them through zero
    rows). A bias keeps the initialisation (zero) for the new units."""
    result = initial.copy()
    result[tuple(slice(0, size) for size in old.shape)] = old
    if old.ndim >= 2 and initial.shape[-2] > old.shape[-2]:
        result[..., old.shape[-2]:, :] = 0.0
    return result


def grow_networks(source: Checkpoint, networks: Autoencoders) -> GrowReport:
    """Load the weights of ``source`` (a checkpoint of a smaller config) into ``networks`` (a bigger one).

    Every network weight of the source must find a variable of the same key
    (``<network>/<layer>/<kernel|bias>``) in ``networks``, of the same shape, or for a Dense layer
    as wide or wider in every axis (``_widened``): a grown model keeps all of what was learned,
    so a source that does not fit (a layer the new config lacks, one that is smaller) raises
    CheckpointError naming the first weight that has no place. Variables the
    source lacks keep their initialisation, except the ends of new residual branches, which are set
    to zero (module docstring). Optimizer state in the source is not used (the caller starts Adam's
    moments afresh). float16 (compact) sources are widened to float32.
    """
    variables = {f"{name}/{variable.path}": variable
                 for name, network in networks.networks().items() for variable in network.weights}
    dense = {f"{name}/{variable.path}" for name, network in networks.networks().items()
             for layer in network.layers if type(layer).__name__ == "Dense" for variable in layer.weights}
    weights = {key: value for key, value in source.arrays.items() if not key.startswith("optimizer/")}
    report = GrowReport()
    for key, value in sorted(weights.items()):
        variable = variables.get(key)
        if variable is None:
            raise CheckpointError(f"{source.path}: cannot grow config {source.config.name!r} into "
                                  f"{networks.config.name!r}: {key} has no place in the new config; "
                                  f"{_WHAT_GROWS}")
        if tuple(value.shape) != tuple(variable.shape) and (
                key not in dense or not _fits_inside(tuple(value.shape), tuple(variable.shape))):
            raise CheckpointError(f"{source.path}: cannot grow config {source.config.name!r} into "
                                  f"{networks.config.name!r}: {key} has shape {tuple(value.shape)}, the new "
                                  f"config's has {tuple(variable.shape)}; {_WHAT_GROWS}")
    for key, variable in variables.items():
        if key in weights:
            value = weights[key].astype(np.float32)
            if value.shape == tuple(variable.shape):
                variable.assign(value)
                report.copied.append(key)
            else:
                variable.assign(_widened(value, np.asarray(variable.numpy(), dtype=np.float32)))
                report.widened.append(key)
            report.source_parameters += int(np.prod(value.shape))
        elif RESIDUAL_BRANCH_END.search(key):
            variable.assign(np.zeros(tuple(variable.shape), dtype=np.float32))
            report.zeroed.append(key)
        else:
            report.initialised.append(key)
        report.parameters += int(np.prod(tuple(variable.shape)))
    logger.info("grew %s (%s, %d parameters, iteration %d) into %s (%d parameters): %d weights copied, "
                "%d widened; of the new ones, %d kept at their initialisation and %d residual branch ends "
                "set to zero", source.path,
                source.config.name, report.source_parameters, source.iteration, networks.config.name,
                report.parameters, len(report.copied), len(report.widened), len(report.initialised),
                len(report.zeroed))
    return report

"""Learning-rate dropout: Adam that updates a random share of the weights each step.

DeepFaceLab's ``lr_dropout`` (SAEHD, "Use learning rate dropout": its optimizers multiply each
weight's update by a Bernoulli draw that keeps it with probability 0.3; the moments are updated
with the full gradient every step), after Lin et al., "Learning Rate Dropout", arXiv:1912.00144
(2019). DeepFaceLab's users switch it on late, once the face is trained, "to get extra sharpness
and reduce subpixel shake for less amount of iterations".

``LearningRateDropoutAdam`` is ``keras.optimizers.Adam``'s own step followed by the mask (the
dropped weights keep the value they had before the step). Its
variables are Adam's (the iteration count, a momentum and a velocity per weight), so checkpoints
are the same with and without it. The mask is drawn with a stateless generator keyed on (the
optimizer's iteration count, the variable's index): no random state to save, a resumed run
draws what an uninterrupted one would, and the same code runs under TensorFlow, JAX and PyTorch
(the three backends of training/backend.py).
"""

from __future__ import annotations

import zlib

import keras
from keras import ops


def _uniform(variable, iteration, index: int):
    """float32 uniform [0, 1) of ``variable``'s shape (on its device), a function of (``iteration``
    (a scalar tensor), ``index``) only."""
    shape = tuple(variable.shape)
    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        seed = tf.stack([tf.cast(iteration, tf.int64), tf.constant(index, tf.int64)])
        return tf.random.stateless_uniform(shape, seed=seed, dtype=tf.float32)
    if backend == "jax":
        import jax

        key = jax.random.fold_in(jax.random.key(index), ops.cast(iteration, "uint32"))
        return jax.random.uniform(key, shape, dtype="float32")
    if backend == "torch":
        import torch

        step = int(ops.convert_to_numpy(iteration))
        generator = torch.Generator(device="cpu").manual_seed(zlib.crc32(f"{index}:{step}".encode()))
        return torch.rand(shape, generator=generator, dtype=torch.float32).to(variable.value.device)
    raise NotImplementedError(f"learning-rate dropout has no random draw for the {backend!r} backend")


class LearningRateDropoutAdam(keras.optimizers.Adam):
    """Adam whose update of each weight is kept with probability ``keep`` (0 < keep <= 1; 1 is
    plain Adam, DeepFaceLab's value when on is 0.3) and dropped otherwise; the moments always
    take the whole gradient. ValueError for ``keep`` outside (0, 1]."""

    def __init__(self, keep: float = 0.3, **kwargs) -> None:
        if not 0.0 < keep <= 1.0:
            raise ValueError(f"learning-rate dropout keeps a share in (0, 1] of the updates, not {keep}")
        super().__init__(**kwargs)
        self.keep = float(keep)

    def update_step(self, gradient, variable, learning_rate):
        if self.keep >= 1.0:
            return super().update_step(gradient, variable, learning_rate)
        # Adam's own step (moments and weights), then the dropped weights put back as they were;
        # the draw is keyed on the iteration before Adam's step (the optimizer counts after it).
        before = ops.copy(ops.convert_to_tensor(variable))
        kept = ops.less(_uniform(variable, self.iterations, self._get_variable_index(variable)), self.keep)
        super().update_step(gradient, variable, learning_rate)
        self.assign(variable, ops.where(kept, ops.convert_to_tensor(variable), before))

    def get_config(self) -> dict:
        return {**super().get_config(), "keep": self.keep}

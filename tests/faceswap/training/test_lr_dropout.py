"""Learning-rate dropout (training/lr_dropout.py): Adam's update kept on a random share of the
weights, moments updated in full, the draw a function of (iteration, variable) only, the same on
TensorFlow and under JAX's jit; and the training command trains with it and resumes bit-identically."""

from __future__ import annotations

import numpy as np
import pytest

from faceswap.errors import FaceswapError
from faceswap.training.checkpoint import load_checkpoint
from faceswap.training.trainer import TrainSettings, make_optimizer
from tests.faceswap.training.test_backends import _run_in_backend

SHAPES = [(300, 200), (1000,)]


def _one_step(optimizer, gradients, steps=1):
    """Apply ``gradients`` ``steps`` times to fresh variables of ones; -> (weights, momenta, velocities)."""
    import keras

    variables = [keras.Variable(np.ones(g.shape, np.float32)) for g in gradients]
    optimizer.build(variables)
    for _ in range(steps):
        optimizer.apply_gradients(zip([keras.ops.convert_to_tensor(g) for g in gradients], variables))
    return ([v.numpy() for v in variables], [m.numpy() for m in optimizer._momentums],
            [v.numpy() for v in optimizer._velocities])


@pytest.fixture(scope="module")
def gradients():
    rng = np.random.default_rng(3)
    return [rng.normal(size=shape).astype(np.float32) for shape in SHAPES]


def test_keeps_the_update_on_a_share_of_the_weights_and_the_moments_in_full(gradients):
    from faceswap.training.lr_dropout import LearningRateDropoutAdam

    settings = TrainSettings(learning_rate=0.01, lr_dropout=0.3)
    dropped = make_optimizer(settings)
    assert isinstance(dropped, LearningRateDropoutAdam) and dropped.keep == 0.3
    plain = make_optimizer(TrainSettings(learning_rate=0.01))
    assert not isinstance(plain, LearningRateDropoutAdam)
    weights, momenta, velocities = _one_step(dropped, gradients)
    plain_weights, plain_momenta, plain_velocities = _one_step(plain, gradients)
    for weight, plain_weight in zip(weights, plain_weights):
        moved = weight != 1.0
        assert abs(moved.mean() - 0.3) < 0.03, moved.mean()
        # a kept weight moves exactly as plain Adam moves it; a dropped one does not move
        np.testing.assert_allclose(weight[moved], plain_weight[moved], rtol=1e-6)
        assert np.all(plain_weight[~moved] != 1.0)
    for ours, theirs in zip(momenta + velocities, plain_momenta + plain_velocities):
        np.testing.assert_allclose(ours, theirs, rtol=1e-6)
    # the same variables as Adam's: a checkpoint does not depend on the option
    assert [v.shape for v in dropped.variables] == [v.shape for v in plain.variables]


def test_the_draw_depends_on_the_iteration_only(gradients):
    settings = TrainSettings(learning_rate=0.01, lr_dropout=0.3)
    once, _, _ = _one_step(make_optimizer(settings), gradients)
    again, _, _ = _one_step(make_optimizer(settings), gradients)
    twice, _, _ = _one_step(make_optimizer(settings), gradients, steps=2)
    for first, second, after_two in zip(once, again, twice):
        np.testing.assert_array_equal(first, second)
        moved_first, moved_second = first != 1.0, (after_two != 1.0)
        # the second step draws anew: ~1 - 0.7^2 of the weights have moved after two
        assert abs(moved_second.mean() - 0.51) < 0.04, moved_second.mean()
        assert np.all(moved_second[moved_first])


def test_keep_one_is_plain_adam_and_out_of_range_is_refused(gradients, train_tiny, tmp_path):
    from faceswap.training.lr_dropout import LearningRateDropoutAdam

    weights, _, _ = _one_step(LearningRateDropoutAdam(keep=1.0, learning_rate=0.01), gradients)
    plain, _, _ = _one_step(make_optimizer(TrainSettings(learning_rate=0.01)), gradients)
    for ours, theirs in zip(weights, plain):
        assert np.all(ours != 1.0)
        np.testing.assert_allclose(ours, theirs, rtol=1e-6)   # the compiled step may differ by an ulp
    for keep in (0.0, -0.5, 1.5, float("nan")):
        with pytest.raises(ValueError, match="share"):
            LearningRateDropoutAdam(keep=keep)
        with pytest.raises(FaceswapError, match="--lr-dropout"):
            train_tiny(tmp_path / "refused", 2, lr_dropout=keep)
        assert not (tmp_path / "refused" / "checkpoint.npz").exists()


def test_training_with_it_resumes_bit_identically(tmp_path, train_tiny):
    straight = train_tiny(tmp_path / "straight", 20, lr_dropout=0.3)
    train_tiny(tmp_path / "resumed", 10, lr_dropout=0.3)
    second = train_tiny(tmp_path / "resumed", 20, lr_dropout=0.3)
    assert second.start_iteration == 10
    resumed, uninterrupted = load_checkpoint(tmp_path / "resumed"), load_checkpoint(tmp_path / "straight")
    assert uninterrupted.meta["lr_dropout"] == 0.3
    for key, value in uninterrupted.arrays.items():
        if key != "meta":
            np.testing.assert_array_equal(resumed.arrays[key], value, err_msg=key)
    train_tiny(tmp_path / "plain", 20)   # the option changes the training
    plain_weights = load_checkpoint(tmp_path / "plain").arrays
    assert any(not np.array_equal(plain_weights[key], value) for key, value in uninterrupted.arrays.items()
               if key.startswith("decoder_b/"))


def test_each_step_draws_anew_under_jax_jit():
    pytest.importorskip("jax")
    process = _run_in_backend("""
import jax, keras, numpy as np
from faceswap.training.lr_dropout import LearningRateDropoutAdam
optimizer = LearningRateDropoutAdam(keep=0.3, learning_rate=0.01)
variable = keras.Variable(np.ones((300, 200), np.float32))
optimizer.build([variable])
step = jax.jit(optimizer.stateless_apply)
state, weights = [v.value for v in optimizer.variables], [variable.value]
gradient = [np.random.default_rng(0).normal(size=(300, 200)).astype(np.float32)]
moved = []
for _ in range(2):
    before = np.asarray(weights[0])
    weights, state = step(state, gradient, weights)
    moved.append(np.asarray(weights[0]) != before)
print(moved[0].mean(), moved[1].mean(), (moved[0] & moved[1]).mean())
""")
    _assert_independent_draws(process.stdout)


def test_each_step_draws_anew_on_pytorch():
    pytest.importorskip("torch", reason="PyTorch is not in the lock; install the CPU wheel elsewhere to run this")
    process = _run_in_backend("""
import keras, numpy as np
from faceswap.training.lr_dropout import LearningRateDropoutAdam
optimizer = LearningRateDropoutAdam(keep=0.3, learning_rate=0.01)
variable = keras.Variable(np.ones((300, 200), np.float32))
optimizer.build([variable])
gradient = keras.ops.convert_to_tensor(np.random.default_rng(0).normal(size=(300, 200)).astype(np.float32))
moved = []
for _ in range(2):
    before = keras.ops.convert_to_numpy(variable.value)
    optimizer.apply_gradients([(gradient, variable)])
    moved.append(keras.ops.convert_to_numpy(variable.value) != before)
print(moved[0].mean(), moved[1].mean(), (moved[0] & moved[1]).mean())
""", backend="torch")
    _assert_independent_draws(process.stdout)


def _assert_independent_draws(stdout: str) -> None:
    first, second, both = map(float, stdout.split()[-3:])
    assert abs(first - 0.3) < 0.03 and abs(second - 0.3) < 0.03
    assert abs(both - 0.09) < 0.02   # independent draws, not the same mask every step

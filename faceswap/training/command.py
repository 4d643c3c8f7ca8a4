"""`python -m faceswap train`: train (or resume) the shared-encoder autoencoders on two face folders.

    python -m faceswap train --side-a faces/people --side-b faces/d6 --model-dir models/d6 --config lite

Settings come from the command line, else FACESWAP_TRAIN_<NAME> environment variables, else the
defaults in TrainSettings / AugmentSettings / LossSettings. Ctrl-C saves the checkpoint and stops;
running the same command again resumes.
"""

from __future__ import annotations

import argparse

from faceswap.settings import add_dataclass_arguments, settings_from
from faceswap.training.augmentation import AugmentSettings
from faceswap.training.losses import LossSettings
from faceswap.training.trainer import TrainSettings, Trainer

HELP = "train the face-swap model on face folders of identity A and identity B (resumes a checkpoint)"
ENV_PREFIX = "FACESWAP_TRAIN_"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--side-a", nargs="+", required=True, metavar="DIR",
                        help="face folder(s) of identity A (any people; `extract` output)")
    parser.add_argument("--side-b", nargs="+", required=True, metavar="DIR",
                        help="face folder(s) of identity B, the target person")
    parser.add_argument("--model-dir", required=True, metavar="DIR",
                        help="where checkpoint.npz, preview.png and loss.csv/png go (resumed if present)")
    add_dataclass_arguments(parser, TrainSettings)
    add_dataclass_arguments(parser, AugmentSettings)
    add_dataclass_arguments(parser, LossSettings)


def run(args: argparse.Namespace) -> int:
    settings = settings_from(TrainSettings, args, env_prefix=ENV_PREFIX)
    augment = settings_from(AugmentSettings, args, env_prefix=ENV_PREFIX)
    loss = settings_from(LossSettings, args, env_prefix=ENV_PREFIX)
    trainer = Trainer(args.side_a, args.side_b, args.model_dir, settings, augment=augment, loss=loss,
                      progress=not getattr(args, "quiet", False))
    result = trainer.run()
    state = "stopped (Ctrl-C)" if result.interrupted else "finished"
    print(f"{state} at iteration {result.iteration} of {settings.iterations}: loss A {result.loss_a:.4f}, "
          f"B {result.loss_b:.4f}, {result.iterations_per_second:.2f} it/s; checkpoint in {args.model_dir}")
    return 0


if __name__ == "__main__":
    import sys

    from faceswap.cli import main

    sys.exit(main(["train", *sys.argv[1:]]))

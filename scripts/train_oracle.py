"""Train the oracle that ships with the package and write its weights + manifest.

    .venv/bin/python scripts/train_oracle.py --out stylegan_tutorial/pretrained

The manifest (oracle-faces32.json) records this command, the seed, the held-out accuracy / R²
per factor, the wall time and the machine; the weights' sha256 is checked by ``load_oracle``.
Torch runs single-threaded by default: on the project's busy 2-core machine one thread trained
1.7x faster than two (345 vs 200 img/s).
"""

import argparse
import json
import shlex
import sys

import torch

from stylegan_tutorial.oracle import train_oracle
from stylegan_tutorial.shipped import PRETRAINED_DIR


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(PRETRAINED_DIR), help="folder for weights + manifest")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--n-train", type=int, default=40_000)
    parser.add_argument("--n-test", type=int, default=4_000)
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--share64", type=float, default=0.5,
                        help="fraction of training faces drawn at 64² and box-averaged to 32²")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    command = " ".join(shlex.quote(a) for a in ["python", "scripts/train_oracle.py", *sys.argv[1:]])
    manifest = train_oracle(args.out, seed=args.seed, n_train=args.n_train, n_test=args.n_test,
                            epochs=args.epochs, share64=args.share64, command=command)
    print(json.dumps(manifest, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Export a training checkpoint's G_ema as a generator that ships inside the package.

    python scripts/export_pretrained.py --checkpoint runs/colab64/checkpoint-000655648.safetensors \
        --stem generator-faces64 --provenance provenance.json

writes ``stylegan_tutorial/pretrained/generator-faces64.{safetensors,json}``: G_ema in float16
and a manifest with the weights' sha256 plus everything in ``--provenance`` (a JSON object: the
training commands, the last log lines, wall time, hardware). Register the name in
``stylegan_tutorial.shipped.SHIPPED`` to make ``pretrained:NAME`` load it.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run from a checkout without installing
    sys.path.insert(0, str(ROOT))


def main(argv=None) -> int:
    from stylegan_tutorial.shipped import PRETRAINED_DIR, export_generator

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", required=True, help="a training checkpoint (.safetensors)")
    parser.add_argument("--stem", required=True, help="file stem, e.g. generator-faces64")
    parser.add_argument("--provenance", required=True, help="JSON file: commands, log lines, hardware")
    parser.add_argument("--out-dir", default=str(PRETRAINED_DIR))
    args = parser.parse_args(argv)
    provenance = json.loads(Path(args.provenance).read_text())
    provenance["export_command"] = " ".join(["python scripts/export_pretrained.py",
                                              *(sys.argv[1:] if argv is None else argv)])
    manifest = export_generator(args.checkpoint, args.out_dir, args.stem, provenance)
    print(json.dumps({k: manifest[k] for k in ("file", "sha256", "bytes", "kimg",
                                               "float16_max_abs_error")}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

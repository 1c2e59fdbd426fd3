"""DPO with 4-bit QLoRA on C2-Syn, as a script (same as ``c2 train``), in the spirit of TRL's scripts.

    python training/train.py --config llama2-7b-chat-t4 --data runs/c2-syn \\
        --out runs/llama2 --eval

On several GPUs (or several CPU processes), launch it with one of the configs in ``training/accelerate/``:

    accelerate launch --config_file training/accelerate/ddp.yaml --num_processes 4 training/train.py \\
        --config llama2-7b-chat-24gb --data runs/c2-syn --out runs/llama2-ddp

Only the main process writes, prints and runs C2-Eval. All the logic lives in :mod:`c2kit.training`; run
``python training/train.py --help`` for every key and docs/training.md for the launches.
"""

import sys

from c2kit.cli import main

if __name__ == "__main__":
    sys.exit(main(["train", *sys.argv[1:]]))

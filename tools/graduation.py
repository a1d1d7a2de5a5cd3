"""Graduation, walked through (docs/graduation.md): a LeNet5 trained here goes on training in
PyTorch, is served by ONNX Runtime, and a GPT trained here writes text in PyTorch.

    python tools/graduation.py --data-dir ../shared/data --gpt gpt.npz

1. LeNet5 trains here for ``--epochs-here`` epochs (SGD with momentum 0.9, lr 0.05, batch 64,
   seed 0, the layer path), and its test accuracy is printed after each;
2. `interop.to_torch` makes it a PyTorch module; its test accuracy, measured in PyTorch, is
   the same; it trains ``--epochs-torch`` more epochs with ``torch.optim.SGD`` (lr 0.01) and
   its test accuracy goes on from there;
3. `interop.from_torch` brings it back, and `interop.save_onnx` exports it: ONNX Runtime's
   predictions on the test set are ours;
4. with ``--gpt``, a GPT checkpoint (``train --model gpt --save``) writes text in PyTorch.

It needs the ``torch`` and ``interop`` extras and MNIST (found or downloaded as ``train``
finds it). ``--samples`` trains on the first N images only (a quick look; the tests use it).
A missing extra, file or data set is one line on stderr and exit 1.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from deeplearning import SGD, LeNet5, interop
from deeplearning.data import load_mnist
from deeplearning.data.text import CharTokenizer
from deeplearning.interop.extras import require
from deeplearning.training import fit
from deeplearning.training.checkpoint import load_checkpoint


def count(text: str) -> int:
    """An argument that must be a positive int."""
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"must be a positive int, got {text!r}")
    return int(text)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", help="the folder that holds mnist/ (or downloads it)")
    parser.add_argument("--epochs-here", type=count, default=2)
    parser.add_argument("--epochs-torch", type=count, default=1)
    parser.add_argument("--samples", type=count, help="train on the first N images only")
    parser.add_argument("--gpt", type=Path, help="a GPT checkpoint to sample from in PyTorch")
    args = parser.parse_args(argv)
    if args.gpt is not None and not args.gpt.is_file():
        parser.error(f"argument --gpt: no file {args.gpt}")
    try:
        return walk_through(args)
    except (ImportError, OSError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1


def walk_through(args: argparse.Namespace) -> int:
    """The four steps of the module's docstring."""
    torch = require("torch", "tools/graduation.py")
    onnxruntime = require("onnxruntime", "tools/graduation.py")
    torch.manual_seed(0)
    torch.set_num_threads(1)
    data = load_mnist("mnist", args.data_dir, flatten=False)
    if args.samples:
        data = data._replace(
            x_train=data.x_train[: args.samples], y_train=data.y_train[: args.samples]
        )
    print(f"1. LeNet5 here, {args.epochs_here} epochs:")
    model = LeNet5(rng=0)
    optimizer = SGD(model.parameters(), lr=0.05, momentum=0.9)
    for stats in fit(model, data, optimizer, epochs=args.epochs_here, batch_size=64, rng=0):
        print(f"   {stats}")

    print("2. in PyTorch:")
    net = interop.to_torch(model).eval()
    x_test, y_test = torch.from_numpy(data.x_test), torch.from_numpy(data.y_test)
    ours = model.eval().infer(data.x_test).argmax(axis=1)

    def accuracy() -> float:
        with torch.no_grad():
            return float((net(x_test).argmax(dim=1) == y_test).double().mean())

    print(f"   converted: test acc {accuracy():.2%} (here {np.mean(ours == data.y_test):.2%})")
    torch_optimizer = torch.optim.SGD(net.parameters(), lr=0.01, momentum=0.9)
    x_train, y_train = torch.from_numpy(data.x_train), torch.from_numpy(data.y_train)
    shuffle = torch.Generator().manual_seed(0)
    for epoch in range(args.epochs_here + 1, args.epochs_here + args.epochs_torch + 1):
        start = time.perf_counter()
        net.train()
        for index in torch.randperm(len(x_train), generator=shuffle).split(64):
            loss = torch.nn.functional.cross_entropy(net(x_train[index]), y_train[index])
            torch_optimizer.zero_grad()
            loss.backward()
            torch_optimizer.step()
        net.eval()
        seconds = time.perf_counter() - start
        print(f"   epoch {epoch} in PyTorch: test acc {accuracy():.2%}  {seconds:.2f} s")

    print("3. back, and served by ONNX Runtime:")
    back = interop.from_torch(net).eval()
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "lenet5.onnx"
        interop.save_onnx(back, path, example_input=data.x_test[:1])
        session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    name = session.get_inputs()[0].name
    served = session.run(None, {name: data.x_test})[0].argmax(axis=1)
    here = back.infer(data.x_test).argmax(axis=1)
    print(f"   ONNX Runtime: test acc {np.mean(served == data.y_test):.2%}; "
          f"{np.sum(served != here)} of {len(here):,} predictions differ from ours")  # fmt: skip

    if args.gpt:
        print(f"4. {args.gpt} writes in PyTorch:")
        gpt, header = load_checkpoint(args.gpt)
        if type(gpt).__name__ != "GPT":
            raise ValueError(f"--gpt {args.gpt} holds a {type(gpt).__name__}, not a GPT")
        tokenizer = CharTokenizer.from_json(header["tokenizer"])
        prompt = tokenizer.encode("ROMEO:")[None]  # (1, 6) token ids
        gpt_torch = interop.to_torch(gpt).eval()
        with torch.no_grad():
            theirs = gpt_torch(torch.from_numpy(prompt))[0].numpy()
        difference = np.abs(theirs - gpt.eval().infer(prompt)).max()
        print(f"   the logits of the prompt differ from ours by at most {difference:.1e}")
        generator = torch.Generator().manual_seed(0)
        text = gpt_torch.generate(torch.from_numpy(prompt), 200, 0.8, 200, generator)
        print(tokenizer.decode(text[0].numpy()))
    return 0


if __name__ == "__main__":
    sys.exit(main())

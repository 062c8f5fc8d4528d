"""The `minidl` command.

    minidl lab [--experiments mnist,e1,...] [--dataset auto|mnist|fashion_mnist|digits]
               [--epochs N] [--seed S] [--out DIR]
    python -m reference.cli lab ...

`lab` trains the lab's experiments (reference/lab.py) in minidl and Keras side by side and
writes a folder of reports. TensorFlow is imported only when a command runs, so `--help` is quick.
"""
import argparse
import logging
import sys

EXPERIMENT_HELP = ("comma-separated experiments: mnist (the image task, named after the "
                   "images it uses), e1, e2, e3 (e3-tanh, e3-sigmoid), e4, e5 (e5-500, e5-2000), "
                   "e6; default: all of these. Also convnet (the course's next lesson: a "
                   "convnet on 28x28 MNIST or Fashion-MNIST images, several minutes)")


def build_parser():
    """The argument parser: `minidl <command> [options]`."""
    parser = argparse.ArgumentParser(
        prog="minidl",
        description="minidl: the core of Keras in readable NumPy, checked against Keras.")
    commands = parser.add_subparsers(dest="command", metavar="command", required=True)
    lab = commands.add_parser(
        "lab", help="run the lab's experiments in minidl and Keras side by side",
        description="Train the lab's MNIST classifier and exercises E1-E6 in minidl and in "
                    "Keras from the same initial weights on the same batches, and write a "
                    "report folder: an index README.md, per experiment a markdown report and "
                    "learning curves, and for the image task its predictions and confusion "
                    "matrices.")
    lab.add_argument("--experiments", default=None, help=EXPERIMENT_HELP)
    lab.add_argument("--dataset", default="auto",
                     choices=("auto", "mnist", "fashion_mnist", "digits"),
                     help="images for the image task; auto: MNIST if cached or downloadable, "
                          "else an installed Fashion-MNIST, else scikit-learn's 8x8 digits")
    lab.add_argument("--epochs", type=int, default=None,
                     help="epochs for every experiment (default: each one's number in the lab)")
    lab.add_argument("--seed", type=int, default=0,
                     help="seed of the initial weights and the batch order (default 0)")
    lab.add_argument("--out", default="minidl-report", help="output folder (default minidl-report)")
    return parser


def main(argv=None):
    """Run `minidl` with `argv` (default: the command line); returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.epochs is not None and args.epochs < 1:
        parser.error(f"argument --epochs: expected a positive integer, received {args.epochs}")
    print("Loading TensorFlow and the data ...", flush=True)
    from reference import lab  # imports TensorFlow: a few seconds

    # Every experiment builds new Keras models, so TensorFlow warns that it retraces its
    # predict function; that is expected here and would bury the progress lines.
    logging.getLogger("tensorflow").setLevel(logging.ERROR)
    try:
        experiments = lab.select(args.experiments)
    except ValueError as error:
        parser.error(f"argument --experiments: {error}")
    if args.dataset == "digits" and any(e.model == "convnet" for e in experiments):
        parser.error("argument --dataset: the convnet needs 28x28 images (mnist or "
                     "fashion_mnist); scikit-learn's digits are 8x8")
    lab.run_lab([e.name for e in experiments], dataset=args.dataset, epochs=args.epochs,
                seed=args.seed, out_dir=args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""The `metasparse` command: train, space, optimize (and the commands of later layers).

Every error meant for the user (`MetasparseError`) prints as one line and exits with code 2.

What a command needs (torch, scikit-learn, pandas, ConfigSpace, Dash...) is imported when it
runs: `metasparse --help`, a command's `--help` and a usage error import none of it. The
commands of the later layers are modules (`add_arguments(parser)`, `run(args)`) imported only
when their command is given, and build their arguments from names alone.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.machinery
import importlib.util
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NoReturn

from metasparse.errors import ConfigError, MetasparseError

EXIT_USAGE = 2
EXIT_INTERRUPTED = 130


class _Parser(argparse.ArgumentParser):
    """The parser of `metasparse` and of each of its commands: an argparse error (a bad value,
    an unknown or a missing option) is one line and exit code 2, not the whole usage.

    `module`: the module that defines the command's arguments and runs it, imported when the
    command is parsed (`metasparse --help` lists the commands without importing any)."""

    def __init__(self, *args: Any, module: str | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._module = module

    def parse_known_args(self, args=None, namespace=None):
        """As parse_args (an unknown argument is an error, of the command that got it), once the
        arguments of a command's module are added."""
        if self._module is not None:
            command = importlib.import_module(self._module)
            command.add_arguments(self)
            self.set_defaults(handler=command.run)
            self._module = None
        namespace, extras = super().parse_known_args(args, namespace)
        if extras:
            self.error(f"unrecognized arguments: {' '.join(extras)}")
        return namespace, extras

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def _train_command(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--dataset", required=True,
                        help="dataset name (see `metasparse datasets`) or a data file path")
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--preset", help="a published algorithm (see `metasparse space --presets`)")
    source.add_argument("--config", type=Path, help="a YAML or JSON file with a configuration")
    parser.add_argument("--set", dest="assignments", action="append", default=[],
                        metavar="KEY=VALUE", help="override one parameter (repeatable)")
    parser.add_argument("--epochs", type=int, default=10, help="training epochs (default: 10)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    parser.add_argument("--device", help="torch device (default: cuda when available, else cpu)")
    parser.add_argument("--data-dir", help="data directory (default: $METASPARSE_DATA_DIR)")
    parser.add_argument("--json", action="store_true", help="print one JSON object, no progress")
    parser.set_defaults(handler=_run_train)


def _read_config(args: argparse.Namespace) -> dict:
    from metasparse.space import get_preset, parse_assignment, resolve_config

    if args.preset:
        config = get_preset(args.preset)
    elif args.config:
        import yaml

        try:
            loaded = yaml.safe_load(args.config.read_text())
        except (OSError, yaml.YAMLError) as exc:
            raise ConfigError(f"cannot read config file {str(args.config)!r}: "
                              f"{' '.join(str(exc).split())}") from None
        if not isinstance(loaded, dict):
            raise ConfigError(f"config file {str(args.config)!r} must hold a mapping")
        config = loaded.get("config", loaded)
    else:
        config = {}
    for text in args.assignments:
        key, value = parse_assignment(text)
        config[key] = value
    return resolve_config(config)


def _run_train(args: argparse.Namespace) -> int:
    from metasparse.data import check_name

    check_name(args.dataset, args.data_dir)  # before the imports of what trains (torch)
    from tqdm import tqdm

    from metasparse.data import load_dataset
    from metasparse.train import run_config

    config = _read_config(args)
    if args.epochs < 1:
        raise ConfigError(f"The 'epochs' parameter must be a positive integer; got {args.epochs}")
    dataset = load_dataset(args.dataset, data_dir=args.data_dir)
    bar = None

    def report(epoch: int, metrics: dict) -> None:
        nonlocal bar
        if args.json:
            return
        if bar is None:  # created at the first epoch's end, after every input was accepted
            bar = tqdm(total=args.epochs, desc="training", unit="epoch")
        bar.update(1)
        bar.set_postfix(val_acc=f"{metrics['val_accuracy']:.3f}")

    result = run_config(config, dataset, args.epochs, args.seed, report=report,
                        device=args.device)
    if bar is not None:
        bar.close()
    summary = {
        "dataset": args.dataset, "seed": args.seed, "epochs": args.epochs,
        "status": result.status, "test_accuracy": result.test_accuracy,
        "val_accuracy": result.val_accuracy, "density": result.density,
        "target_density": result.target_density, "wall_time_s": result.wall_time_s,
        "topology_updates": result.topology_updates,
        "connections_moved": result.connections_moved,
        "train_flops": result.train_flops, "inference_flops": result.inference_flops,
        "layer_densities": result.layer_densities, "val_curve": result.val_curve,
        "error": result.error, "config": config,
    }
    if args.json:
        print(json.dumps(summary))
    else:
        for key in ("status", "val_accuracy", "test_accuracy", "density", "target_density",
                    "topology_updates", "connections_moved", "wall_time_s"):
            value = summary[key]
            print(f"{key:>18}: {value:.4f}" if isinstance(value, float) else f"{key:>18}: {value}")
    if result.status == "success" and result.topology_updates == 0 \
            and config["update_every"] != "never":
        print(_no_update_note(args, config), file=sys.stderr)
    return 0 if result.status == "success" else 1


def _no_update_note(args: argparse.Namespace, config: dict) -> str:
    """Why a dynamic configuration trained as a static one (its schedule outlasted the run)."""
    from metasparse.space import relative_hint, schedule_text

    hint = relative_hint(args.preset) if args.preset else ""
    return (f"note: no topology update in {args.epochs} epochs on {args.dataset} (updates "
            f"{schedule_text(config)}, until t_end={config['t_end']}): the network trained as "
            "a static sparse one" + (f"; --preset {hint}" if hint else ""))


def _space_command(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("space", nargs="?", default="meta",
                        help="a shipped space name or a space YAML file (default: meta)")
    parser.add_argument("--presets", action="store_true", help="list the presets instead")
    parser.add_argument("--format", choices=["text", "yaml", "json"], default="text",
                        help="text (readable), or ConfigSpace's own yaml/json serialization")
    parser.set_defaults(handler=_run_space)


def _run_space(args: argparse.Namespace) -> int:
    from metasparse.space import RELATIVE, load_space, preset_info, preset_names

    if args.presets:
        for name in preset_names(relative=True):
            info = preset_info(name)
            print(f"{name}: {info['paper']}")
            print(f"    source: {info['source']}")
            if name.endswith(RELATIVE):
                print(f"    {info['note']}")
            print("    " + ", ".join(f"{k}={v}" for k, v in info["config"].items()))
        return 0
    space = load_space(args.space)
    if args.format == "text":
        print(space)
    else:
        import io

        buffer = io.StringIO()
        if args.format == "json":
            space.to_json(buffer, indent=2)
        else:
            import yaml

            space.to_yaml(buffer, Dumper=yaml.SafeDumper)
        print(buffer.getvalue())
    return 0


def _datasets_command(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data-dir", help="data directory (default: $METASPARSE_DATA_DIR)")
    parser.set_defaults(handler=_run_datasets)


def _run_datasets(args: argparse.Namespace) -> int:
    from metasparse.data import available_datasets

    print("\n".join(available_datasets(args.data_dir)))
    return 0


def _optional_commands(sub) -> None:
    """Commands of the optimize/analysis layers, added where those layers are present."""
    for name, module, help_text in (
        ("optimize", "metasparse.optimize._command",
         "tune a scenario with one of the search backends (see --backend)"),
        ("analyze", "metasparse.analysis._command", "write the report of a results directory"),
        ("validate", "metasparse.analysis._validate_command",
         "evaluate the incumbent and the presets on held-out datasets"),
        ("export", "metasparse.analysis._export_command",
         "write a results directory as an Optuna study (journal file for optuna-dashboard)"),
        ("dashboard", "metasparse.dashboard._command",
         "serve a live dashboard of results directories in the browser (127.0.0.1)"),
        ("select-features", "metasparse.features._command",
         "train a sparse network, rank its input features and score the top K against "
         "scikit-learn baselines"),
        ("study", "metasparse.study._command",
         "run a research study (randomness of prune/grow, weight importance, what tuning "
         "the algorithms is worth) and its report"),
    ):
        if _present(module):
            sub.add_parser(name, help=help_text, description=help_text, module=module)


def _present(module: str) -> bool:
    """Whether `module` is there, found without importing its package (an optional layer may
    be left out of a build)."""
    package = importlib.util.find_spec(module.rpartition(".")[0])
    return package is not None and importlib.machinery.PathFinder.find_spec(
        module, package.submodule_search_locations) is not None


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="metasparse",
        description="Automated configuration of dynamic sparse training: one parameterized "
                    "sparse trainer, its search space, and SMAC/Optuna/Ray Tune on top.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND",
                                parser_class=_Parser)
    _train_command(sub.add_parser("train", help="train one configuration on one dataset",
                                  description="Train one configuration on one dataset."))
    _space_command(sub.add_parser("space", help="show a search space or the presets",
                                  description="Show a search space or the presets."))
    _datasets_command(sub.add_parser("datasets", help="list the datasets found",
                                     description="List the datasets found."))
    _optional_commands(sub)
    return parser


# Commands whose results depend on SMAC's choices. SMAC and ConfigSpace iterate over sets of
# configurations, in an order that follows Python's string hashing, which is random per process:
# two runs of one scenario with one seed chose different configurations from SMAC's first
# model-based trial on (measured on the quickstart; identical with a fixed hash seed).
SEEDED_HASH_COMMANDS = ("optimize", "study")


def main(argv: Sequence[str] | None = None) -> int:
    program_run = argv is None and len(sys.argv) > 1  # not a call from Python
    if program_run and sys.argv[1] in SEEDED_HASH_COMMANDS and "PYTHONHASHSEED" not in os.environ:
        # restart at once with a fixed hash seed
        os.environ["PYTHONHASHSEED"] = "0"
        os.execv(sys.executable, [sys.executable, "-m", "metasparse.cli", *sys.argv[1:]])
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.handler(args)
    except MetasparseError as exc:
        print(f"metasparse {args.command}: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print(f"metasparse {args.command}: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED


if __name__ == "__main__":
    sys.exit(main())

"""The options of the study commands, each declared once, and the one way their values are settled.

An option the study commands share (the data, the model, the training, where it trains, what it
writes) is declared here once: one name (an older spelling stays as a hidden alias that its help
names), one help text, one type, and its usual place in a study's config dataclass
(``CompareConfig``, ``SearchConfig``, ``EvolveConfig``, ``ScreenConfig``: ``train.epochs``,
``data_options.limit``). A command declares its own options the same way; its :class:`Study`
lists its groups, the shared options it lacks and those that go elsewhere in its config.

Every default a help text shows is read from that dataclass's fields, without constructing it;
the default of what is no part of a config (where it trains, the output folder) from the
signature of the code that takes it (the runner, the data loader, the MLP). Help texts are
computed when a command's options are declared, i.e. when that command is used.

:func:`settle` is the one merge of a study's settings: defaults < preset < checkpoint < command
line. An option the user did not type is None and leaves the layer below in place. 0 given to an
option that a command reads as "none" (``--patience 0``: never stop early, ``--threads 0``:
torch's choice; evolve's ``--limit 0``: all examples) is written as None, here and nowhere else.
"""

from __future__ import annotations

import argparse
import ast
import copy
import dataclasses
import functools
import importlib
import inspect
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from actlab import _validate as V
from actlab._errors import ActlabError
from actlab._refs import SOURCE, is_data_file, is_ref, source_hash


@dataclass(frozen=True)
class Option:
    """One option: its name (then older names, kept as hidden aliases), help text and value.

    In ``help``, ``{default}`` reads "default X" ("default: NONE" for a default of None), followed
    by "; 0 = ZERO" where the command reads 0 as None; ``{value}`` is the default alone and
    ``{count}`` its length; ``words`` gives further names, computed on use (the data sets, ...)."""

    flags: tuple[str, ...]
    help: str
    type: Callable[[str], Any] | None = int
    choices: Callable[[], Sequence[str]] | None = None
    metavar: str | None = None
    nargs: str | None = None
    const: Any = None  # with nargs="?": the value of the bare option; a flag stores it (True unless given)
    flag: bool = False  # takes no value
    pairs: bool = False  # repeatable KEY=VALUE, gathered in a dict
    dest: str = ""  # default: the name without its dashes
    none: str = "none"  # how a default of None reads
    zero: str | None = None  # what 0 means, where the command reads 0 as None
    fallback: Callable[[Study], Any] | None = None  # the default where the config holds none
    words: Callable[[], Mapping[str, Any]] | None = None
    path: str | None = ""  # where its value goes in a study's config dict: "" its name, None nowhere

    @property
    def name(self) -> str:
        return self.dest or self.flags[0].lstrip("-").replace("-", "_")


Groups = Sequence[tuple[str | None, Sequence[Option]]]  # (title, options); title None: the command's own


@dataclass(frozen=True)
class Study:
    """A study command: its config dataclass and its groups of options, less those it does not
    have (``without``); ``moved`` gives the options whose place in this config is not their usual
    one (``"pack": "pack"``, or None: no part of this config)."""

    name: str
    config: type
    groups: Groups
    without: tuple[str, ...] = ()
    moved: Mapping[str, str | None] = field(default_factory=dict)
    zero: tuple[str, ...] = ("patience", "threads")  # options that read 0 as None

    @functools.cached_property
    def paths(self) -> dict[str, str | None]:
        """Every option of the command -> its path in the config's dict (``"epochs": "train.epochs"``;
        None: no part of the config, e.g. ``workers``)."""
        options = [o for _, group in self.groups for o in group if o.name not in self.without]
        return {o.name: self.moved.get(o.name, o.name if o.path == "" else o.path) for o in options}

    def default(self, option: Option) -> Any:
        """The default of ``option`` in this command."""
        path = self.paths.get(option.name)
        value = read_default(self.config, path) if path else None
        if value is None and option.fallback is not None:
            value = option.fallback(self)
        return value


# ------------------------------------------------------------------------------ defaults
@functools.cache
def field_defaults(cls: type) -> dict[str, Any]:
    """Field name -> default of dataclass ``cls``, read from its fields without constructing it
    (a default factory runs: a nested config, a list). Shared: copy before changing one."""
    out = {}
    for f in dataclasses.fields(cls):
        if f.default is not dataclasses.MISSING:
            out[f.name] = f.default
        elif f.default_factory is not dataclasses.MISSING:
            out[f.name] = f.default_factory()
    return out


def read_default(cls: type, path: str) -> Any:
    """The default at ``path`` (``"train.epochs"``, ``"data_options.limit"``) of dataclass ``cls``."""
    first, *rest = path.split(".")
    value = field_defaults(cls).get(first)
    for part in rest:
        if dataclasses.is_dataclass(value):
            value = getattr(value, part, None)
        else:
            value = value.get(part) if isinstance(value, Mapping) else None
    return value


def signature_default(fn: Callable, name: str) -> Any:
    """The default of parameter ``name`` of ``fn`` (a class: of its ``__init__``)."""
    return inspect.signature(fn).parameters[name].default


def show(value: Any) -> str:
    """A default as a help text prints it."""
    if isinstance(value, (list, tuple)):
        return ", ".join(map(str, value))
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, Mapping) and not value:
        return "none"
    return str(value)


def help_text(option: Option, study: Study) -> str:
    value = study.default(option)
    default = f"default: {option.none}" if value is None else f"default {show(value)}"
    if option.zero and option.name in study.zero:
        default += f"; 0 = {option.zero}"
    count = len(value) if isinstance(value, (list, tuple)) else 0
    words = option.words() if option.words else {}
    return option.help.format(default=default, value=show(value), count=count, **words)


# ------------------------------------------------------------------------------ declaring
class _Spelled(argparse._StoreAction):
    """Stores the value and the spelling typed (``--n-jobs`` or ``--workers``), for messages."""

    def __call__(self, parser, namespace, values, option_string=None):
        super().__call__(parser, namespace, values, option_string)
        vars(namespace).setdefault("spelled", {})[self.dest] = option_string


class _Pairs(argparse.Action):
    """Gathers repeated ``KEY=VALUE`` options (parsed by :func:`key_value`) in one dict."""

    def __call__(self, parser, namespace, values, option_string=None):
        key, value = values
        setattr(namespace, self.dest, {**(getattr(namespace, self.dest, None) or {}), key: value})


_PLAIN = (str, int, float, bool, type(None), list, tuple, dict)


def key_value(text: str) -> tuple[str, Any]:
    """``KEY=VALUE``: the value a Python literal (``3``, ``0.5``, ``True``, ``[1, 2]``,
    ``'x'``) where it reads as one, else the text itself."""
    key, sep, raw = text.partition("=")
    if not sep or not key.strip().isidentifier():
        raise argparse.ArgumentTypeError(f"{text!r} is not KEY=VALUE with KEY a Python name, e.g. n=500")
    try:
        value = ast.literal_eval(raw.strip())
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        return key.strip(), raw
    if not isinstance(value, _PLAIN):
        raise argparse.ArgumentTypeError(f"{text!r}: use numbers, strings, True/False/None, lists or dicts")
    return key.strip(), list(value) if isinstance(value, tuple) else value


def spelled(args: argparse.Namespace, name: str) -> str:
    """The option ``name`` as the user typed it (its first name if not typed)."""
    return vars(args).get("spelled", {}).get(name) or "--" + name.replace("_", "-")


def add_options(parser: argparse.ArgumentParser, study: Study) -> None:
    """Add to ``parser`` the options of ``study``, each group under its title."""
    for title, options in study.groups:
        mine = [o for o in options if o.name not in study.without]
        target = parser if title is None or not mine else parser.add_argument_group(title)
        for option in mine:
            _add(target, option, study)


def _add(target, option: Option, study: Study) -> None:
    in_config = study.paths[option.name] is not None
    kw: dict[str, Any] = {"dest": option.name, "help": help_text(option, study)}
    if option.flag:
        const = True if option.const is None else option.const
        kw.update(action="store_const", const=const, default=None if in_config else False)
    elif option.pairs:
        kw.update(action=_Pairs, type=key_value, metavar=option.metavar, default=None)
    else:
        kw.update(type=option.type, metavar=option.metavar, default=None if in_config else study.default(option))
        if option.nargs:
            kw.update(nargs=option.nargs, const=option.const)
        if option.choices:
            kw["choices"] = list(option.choices())
        if len(option.flags) > 1:
            kw["action"] = _Spelled
    target.add_argument(option.flags[0], **kw)
    for alias in option.flags[1:]:
        target.add_argument(alias, **{**kw, "help": argparse.SUPPRESS})


# ------------------------------------------------------------------------------ settling
def given(study: Study, args: argparse.Namespace) -> dict[str, Any]:
    """The options of ``study``'s config that the user typed, 0 as None where it means none."""
    out = {}
    for name, path in study.paths.items():
        value = getattr(args, name, None)
        if path is not None and value is not None:
            zero = name in study.zero and value == 0 and not isinstance(value, bool)
            out[name] = None if zero else value
    return out


def settle(
    study: Study,
    args: argparse.Namespace,
    preset: Mapping[str, Any] | None = None,
    checkpoint: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The study's config as a dict: its defaults, then ``preset`` (option name -> value), then
    ``checkpoint`` (the dict of a saved config), then what the user typed, later layers winning.
    Build the config with :func:`build`."""
    defaults = field_defaults(study.config)
    nested = {k for k, v in defaults.items() if dataclasses.is_dataclass(v)}
    d = {k: dataclasses.asdict(v) if k in nested else copy.deepcopy(v) for k, v in defaults.items()}
    _write(d, study, preset or {}, nested)
    d.update(copy.deepcopy(dict(checkpoint or {})))
    typed = given(study, args)
    _check_user_model(typed, checkpoint or {})
    _write(d, study, typed, nested)
    if {"width", "layers"} & set(typed) and d.get("model", "mlp") != "mlp":
        raise ActlabError(f"--width and --layers apply to the mlp model only, not {d.get('model')!r}")
    if {"model_arg", "slots"} & set(typed) and not is_ref(d.get("model")):
        raise ActlabError("--model-arg and --slots apply to your own model (--model path/to/file.py:function) only")
    _stamp_sources(d, study, args, typed)
    return d


def _stamp_sources(d: dict[str, Any], study: Study, args: argparse.Namespace, typed: Mapping[str, Any]) -> None:
    """A model builder or data loader of the user's that the command names: the hash of its file and
    the user's version of it (``--model-version``, ``--data-version``; a checkpoint's where not typed)
    written to its options as ``source``, and so into every run's key. A file is read only where the
    command names it, never because a saved config does."""
    if SOURCE in (typed.get("model_arg") or {}):
        raise ActlabError(f"--model-arg {SOURCE}=... is taken: actlab keeps your model file's hash there")
    data = study.paths["data_arg"].rpartition(".")[0]
    for ref, flag, where, what in (
        ("model", "model_version", study.paths["model_arg"], "model builder"),
        ("dataset", "data_version", data, "data loader"),
    ):
        name, version = d.get(ref), getattr(args, flag, None)
        if not is_ref(name) or is_data_file(name):
            if version is not None:
                raise ActlabError(f"--{flag.replace('_', '-')} applies to your own {ref} (path/to/file.py:function)")
            continue
        if ref not in typed:
            continue
        options = d.setdefault(where, {})
        saved = options.get(SOURCE) if isinstance(options.get(SOURCE), Mapping) else {}
        version = version if version is not None else saved.get("version")
        if version is not None and (not isinstance(version, str) or not 0 < len(version) <= 100):
            raise ActlabError(f"--{flag.replace('_', '-')} is text of 1 to 100 characters, got {version!r}")
        source = {"sha256": source_hash(name, what), "version": version}
        options[SOURCE] = {k: v for k, v in source.items() if v is not None}


def _write(d: dict[str, Any], study: Study, layer: Mapping[str, Any], nested: set[str]) -> None:
    """Each option of ``layer`` at its path in ``d``; None is None in a nested config and no entry
    in a plain dict (``data_options``: no ``limit`` is all)."""
    for name, value in layer.items():
        *parents, last = study.paths[name].split(".")
        target = d
        for part in parents:
            target = target.setdefault(part, {})
        if value is None and parents and parents[0] not in nested:
            target.pop(last, None)
        else:
            target[last] = value


def build(cls: type, d: Mapping[str, Any]) -> Any:
    """An instance of config class ``cls`` from a settled dict: nested configs from their dicts,
    keys it does not know (of a checkpoint from another version) left out."""
    defaults = field_defaults(cls)
    kw = {k: v for k, v in d.items() if k in defaults}
    for k, default in defaults.items():
        if dataclasses.is_dataclass(default) and isinstance(kw.get(k), Mapping):
            kw[k] = type(default).from_dict(kw[k])
    return cls(**kw)


def check_where(args: argparse.Namespace) -> None:
    """``--workers`` (named as typed) and ``--dask-timeout``, before anything starts."""
    V.integer(spelled(args, "workers"), args.workers, 1, V.MAX_WORKERS)
    if getattr(args, "dask_timeout", None) is not None:
        V.number("--dask-timeout", args.dask_timeout, 0, 3600, lo_open=True)


def _check_user_model(typed: Mapping[str, Any], checkpoint: Mapping[str, Any]) -> None:
    """A user's model is imported only where the command line names it: a checkpoint naming one is
    resumed with that --model given again, never another."""
    saved = checkpoint.get("model")
    if is_ref(saved) and typed.get("model") != saved:
        raise ActlabError(
            f"the saved run trains the model {saved!r}; resume it with --model {saved} (a model of your own "
            "is imported only when the command line names it)"
        )


# ------------------------------------------------------------------------------ the shared options
def _listed(module: str, attribute: str) -> list[str]:
    """The names of ``module.attribute``: a list, a dict's keys, or what a function of no arguments gives."""
    value = getattr(importlib.import_module(module), attribute)
    return list(value() if callable(value) else value)


def _words(**where: tuple[str, str]) -> Callable[[], dict[str, str]]:
    """Help words: each name's list (``module``, ``attribute``), joined by commas."""
    return lambda: {word: ", ".join(_listed(*at)) for word, at in where.items()}


def _from(module: str, attribute: str, parameter: str) -> Callable[[Study], Any]:
    """A fallback: the default of ``parameter`` of ``module.attribute``."""
    return lambda study: signature_default(getattr(importlib.import_module(module), attribute), parameter)


DATA = (
    Option(
        ("--dataset",),
        "{names}; csv:PATH (a header row; --target names the label column) or npz:PATH (arrays named x and y, as "
        "numpy.savez(PATH, x=..., y=...) writes them: examples in x, one class label each in y; or x_train, "
        "y_train, x_test, y_test); or a loader of yours, path/to/file.py:FUNCTION or package.module:FUNCTION, "
        "returning (x, y), (train, test) or (train, val, test) ({default})",
        type=str,
        words=_words(names=("actlab.data", "names")),
    ),
    Option(
        ("--limit",),
        "use at most this many training examples, stratified; the validation and test splits shrink in the same "
        "proportion ({default})",
        none="all",
        zero="all",
        path="data_options.limit",
    ),
    Option(("--data-seed",), "seed of the train/validation/test split ({default})"),
    Option(
        ("--data-dir",),
        "where dataset files are looked for and downloaded to ({default})",
        type=str,
        none="$ACTLAB_DATA, else ~/.cache/actlab",
        path="data_options.data_dir",
    ),
    Option(("--target",), "target column of a csv: dataset", type=str, path="data_options.target"),
    Option(
        ("--data-arg",),
        "KEY=VALUE, an argument of a --dataset loader of yours (repeat for more; VALUE a Python literal, else text)",
        metavar="KEY=VALUE",
        pairs=True,
        path="data_options.data_args",
    ),
    Option(
        ("--data-version",),
        "your version of a --dataset loader of yours; with the hash of its file, part of each run's identity, so a "
        "changed file or a new version trains anew",
        type=str,
        metavar="STR",
        path=None,
    ),
    Option(
        ("--shape",),
        "the examples' shape: {shapes} ({default}: the dataset's own shape)",
        type=str,
        fallback=_from("actlab.data", "load", "shape"),
        words=_words(shapes=("actlab.data", "SHAPES")),
        path="data_options.shape",
    ),
    Option(("--no-download",), "never download; fail if files are missing", flag=True, path=None),
)


def transfer_option(who: str, reference: str) -> Option:
    """``--transfer-to TASKS`` of a study whose final contenders are ``who``."""
    return Option(
        ("--transfer-to",),
        f"train {who} on these tasks too, with the final seeds and epochs, nothing searched again; each task tested "
        f"against {reference}, all ranked across tasks: {{tasks}}",
        type=str,
        metavar="TASKS",
        words=lambda: {"tasks": importlib.import_module("actlab.execution.tasks").TASKS_HELP},  # help: no torch
    )


MODEL = (
    Option(
        ("--model",),
        "{models}; seed-cnn is the CNN of 'SELU vs ReLU on CIFAR-10'; or your own: path/to/file.py:function or "
        "package.module:function, a function that returns a torch.nn.Module ({default})",
        type=str,
        words=_words(models=("actlab.models", "names")),
    ),
    Option(
        ("--model-arg",),
        "NAME=VALUE: an argument of your own model's function (a Python literal, else text); repeat it for "
        "more ({default})",
        metavar="NAME=VALUE",
        pairs=True,
        path="model_options",
    ),
    Option(
        ("--slots",),
        "your own model's activations grouped into slots: fnmatch patterns of their module names, each = a slot "
        "name, e.g. 'features.*=conv,classifier.*=head' (default: one slot per activation)",
        type=str,
        path="model_options.slots",
    ),
    Option(
        ("--model-version",),
        "your version of your own model's code; with the hash of its file, part of each run's identity, so a "
        "changed file or a new version trains anew",
        type=str,
        metavar="STR",
        path=None,
    ),
    Option(
        ("--width",),
        "mlp width ({default})",
        fallback=_from("actlab.models", "MLP", "width"),
        path="model_options.width",
    ),
    Option(
        ("--layers", "--depth"),
        "mlp layers, the input and output layers included ({default}; --depth is the same)",
        fallback=_from("actlab.models", "MLP", "depth"),
        path="model_options.depth",
    ),
)
TRAINING = (
    Option(("--epochs",), "maximum epochs of a training ({default})", path="train.epochs"),
    Option(("--batch-size",), "batch size ({default})", path="train.batch_size"),
    Option(
        ("--optimizer",),
        "optimizer ({default})",
        type=str,
        choices=lambda: _listed("actlab.training", "OPTIMIZERS"),
        path="train.optimizer",
    ),
    Option(("--lr",), "learning rate ({default})", type=float, none="the optimizer's own", path="train.lr"),
    Option(
        ("--loss",),
        "{losses} ({default})",
        type=str,
        words=_words(losses=("actlab.training", "LOSSES")),
        path="train.loss",
    ),
    Option(
        ("--patience",), "early-stopping patience in epochs ({default})", zero="never stop early", path="train.patience"
    ),
    Option(
        ("--threads",),
        "torch threads per training, in this process and in each worker process; where torch chooses, a worker "
        "takes one ({default})",
        none="torch's choice",
        zero="torch's choice",
        path="train.threads",
    ),
    Option(("--device",), "cpu or cuda ({default})", type=str, path="train.device"),
)
WHERE = (
    Option(
        ("--workers", "--n-jobs"),
        "local worker processes, each training with --threads torch threads ({default}; 1 = this process; "
        "--n-jobs is the same)",
        fallback=_from("actlab.execution.runner", "Runner", "workers"),
        path=None,
    ),
    Option(
        ("--pack",),
        "at most this many MLP trainings run together in one packed model, each as if alone ({default}; "
        "1 = one by one); N trainings handed over at once are cut into packs of at most max(4, N/2), "
        "so that two workers share them, the same packs for any --workers",
        fallback=_from("actlab.execution.runner", "Runner", "pack"),
        path=None,
    ),
    Option(
        ("--dask",),
        "train on the Dask cluster at ADDRESS, e.g. tcp://scheduler:8786",
        type=str,
        metavar="ADDRESS",
        path=None,
    ),
    Option(
        ("--dask-timeout",),
        "seconds to wait for the Dask scheduler ({default})",
        type=float,
        fallback=_from("actlab.execution.runner", "Runner", "dask_timeout"),
        path=None,
    ),
)
OUTPUT = (
    Option(("--out",), "output folder ({default})", type=str, fallback=lambda study: f"{study.name}-out", path=None),
    Option(("--force",), "write into an --out that holds another command's results", flag=True, path=None),
    Option(("--quiet",), "no progress output", flag=True, path=None),
)
FIT = (
    Option(
        ("--fit",),
        "your own training loop in place of actlab's trainer: path/to/file.py:fit or package.module:fit, a function "
        "fit(model, data, config) returning a dict of metrics, e.g. {{'val_accuracy': ..., 'test_accuracy': ...}}",
        type=str,
        metavar="REF",
        path="train.fit",
    ),
    Option(
        ("--fit-version",),
        "your version of the loop; part of each run's identity, so a new version trains anew ({default})",
        type=str,
        metavar="STR",
        path="train.fit_version",
    ),
    Option(
        ("--fit-metric",),
        "the loop's metric the study selects on ({default})",
        type=str,
        metavar="NAME",
        path="train.fit_metric",
    ),
    Option(
        ("--fit-direction",),
        "max or min: select on the highest or the lowest --fit-metric ({default})",
        type=str,
        choices=lambda: ("max", "min"),
        path="train.fit_direction",
    ),
)
# The shared groups, in the order every command's help lists them (after its own options).
SHARED = (
    ("data", DATA),
    ("model", MODEL),
    ("training", TRAINING),
    ("your training loop", FIT),
    ("where it trains", WHERE),
    ("output", OUTPUT),
)

__all__ = [
    "Option",
    "SHARED",
    "Study",
    "add_options",
    "build",
    "check_where",
    "field_defaults",
    "given",
    "read_default",
    "settle",
    "show",
    "signature_default",
    "spelled",
]

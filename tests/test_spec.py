"""Activation specs: parsing, one-line errors, no code execution, fuzzing, and ``actlab.register``.

(The command line's one-line errors are tested in test_cli_catalogue.py.)
"""

from __future__ import annotations

import random
import string
import warnings

import pytest
import torch
import torch.nn.functional as F
from torch import nn

import actlab
from actlab import ActlabError
from actlab.catalogue import REGISTRY, Activation, parse_spec
from tests.conftest import restored_registry


def one_line_error(call, *args, **kwargs) -> str:
    """Run ``call``; it must raise ActlabError with a non-empty single-line message."""
    with pytest.raises(ActlabError) as info:
        call(*args, **kwargs)
    msg = str(info.value)
    assert msg.strip() and "\n" not in msg and "\r" not in msg, repr(msg)
    assert len(msg) < 400, msg
    return msg


X = torch.linspace(-4, 4, 81)


# --------------------------------------------------------------------------- valid specs


def test_spec_with_arguments_changes_the_function():
    default = actlab.functional("leaky_relu")
    custom = actlab.functional("leaky_relu(negative_slope=0.1)")
    torch.testing.assert_close(custom(X), F.leaky_relu(X, 0.1))
    assert not torch.allclose(custom(X), default(X))
    m = actlab.get("leaky_relu(negative_slope=0.1)")
    assert isinstance(m, nn.LeakyReLU) and m.negative_slope == 0.1
    torch.testing.assert_close(m(X), custom(X))


@pytest.mark.parametrize(
    "spec, reference",
    [
        ("elu(0.5)", lambda x: F.elu(x, 0.5)),
        ("elu(alpha=2)", lambda x: F.elu(x, 2.0)),  # an int where a float is expected is fine
        ("hardtanh(-2.0, max_val=3.0)", lambda x: F.hardtanh(x, -2.0, 3.0)),
        ("  softplus( beta = 2.0 , threshold=5.0 )  ", lambda x: F.softplus(x, 2.0, 5.0)),
        ("LeakyReLU(negative_slope=0.3)", lambda x: F.leaky_relu(x, 0.3)),
        ("step(threshold=0.5)", lambda x: (x >= 0.5).float()),
        ("relu()", F.relu),
    ],
    ids=["positional", "int-for-float", "mixed", "whitespace", "case-alias", "step", "empty-parens"],
)
def test_valid_specs(spec, reference):
    torch.testing.assert_close(actlab.functional(spec)(X), reference(X))
    torch.testing.assert_close(actlab.get(spec)(X), reference(X))


def test_parse_spec_splits_literals():
    assert parse_spec("elu(0.5, alpha=(1, 'a'), b=None, c=True)") == (
        "elu",
        (0.5,),
        {"alpha": (1, "a"), "b": None, "c": True},
    )
    assert parse_spec("relu") == ("relu", (), {})


def test_unknown_name_suggests_close_names():
    msg = one_line_error(actlab.get, "leaky_rlu")
    assert "did you mean" in msg and "'leaky_relu'" in msg
    msg = one_line_error(actlab.functional, "sigmod(1)")
    assert "did you mean" in msg and "'sigmoid'" in msg
    assert "did you mean" in one_line_error(actlab.lookup, "Mish2")


# --------------------------------------------------------------------------- bad specs

BAD_SPECS = {
    "unknown-keyword": ("relu(alpha=1)", "no argument 'alpha'"),
    "wrong-type-str": ("elu(alpha='a')", "must be float"),
    "wrong-type-bool": ("leaky_relu(negative_slope=True)", "must be float"),
    "wrong-type-tuple": ("elu(alpha=(1,))", "must be float"),
    "float-for-int": ("softmax(dim=1.5)", "must be int"),
    "not-finite": ("elu(alpha=1e999)", "finite"),
    "too-many-args": ("elu(1.0, 2.0)", "at most 1"),
    "args-for-none": ("relu(1)", "at most 0"),
    "given-twice": ("elu(1.0, alpha=2.0)", "twice"),
    "keyword-twice": ("elu(alpha=1.0, alpha=2.0)", "twice"),
    "call": ("relu(__import__('os'))", "not a literal"),
    "call-keyword": ("relu(x=open('f'))", "not a literal"),
    "lambda": ("lambda x: x", "cannot read"),
    "lambda-arg": ("relu(lambda: 0)", "not a literal"),
    "attribute": ("relu(os.system)", "not a literal"),
    "attribute-name": ("torch.relu", "unknown activation"),
    "name": ("relu(x)", "not a literal"),
    "f-string": ("relu(f'{1}')", "not a literal"),
    "arithmetic": ("elu(alpha=2**1000)", "not a literal"),
    "star": ("elu(*[1])", "not allowed"),
    "double-star": ("elu(**{'alpha': 1})", "not allowed"),
    "empty": ("", "cannot read"),
    "blank": ("   ", "cannot read"),
    "unbalanced-open": ("relu(", "cannot read"),
    "unbalanced-close": ("relu)", "cannot read"),
    "unbalanced-inner": ("elu((1.0)", "cannot read"),
    "extra-close": ("elu(1.0))", "cannot read"),
    "nested-deep": ("elu(" + "(" * 500 + "1" + ")" * 500 + ")", "cannot read"),
    "nul": ("relu\x00", "cannot read"),
    "statement": ("relu; import os", "cannot read"),
    "two-calls": ("elu(1.0)(0.5)", "cannot read"),
    "boolean-op": ("relu() or elu()", "cannot read"),
    "method-call": ("elu(1.0).real(2)", "cannot read"),
    "unusable-value": ("celu(alpha=0.0)", "not usable"),
    "non-finite-output": ("squareplus(b=-1.0)", "non-finite"),
    "min-above-max": ("hardtanh(min_val=2.0, max_val=1.0)", "not usable"),
}


@pytest.mark.parametrize("spec, expected", list(BAD_SPECS.values()), ids=list(BAD_SPECS))
@pytest.mark.parametrize("make", [actlab.get, actlab.functional], ids=["get", "functional"])
def test_bad_specs_raise_one_line_actlab_error(make, spec, expected):
    msg = one_line_error(make, spec)
    assert expected in msg


@pytest.mark.parametrize(
    "spec",
    [
        "a" * 100_000,
        "relu(" + "1," * 20_000 + ")",
        "elu(alpha='" + "x" * 50_000 + "')",
        "relu(\n" + "1\n" * 1000 + ")",
        "relu(" + "a" * 50_000 + "=1)",
        "elu(" + "a" * 50_000 + "=1, " + "a" * 50_000 + "=2)",
        "elu(alpha=(" + "1, " * 20_000 + "))",
    ],
    ids=["long-name", "many-args", "long-string-arg", "newlines", "long-keyword", "long-keyword-twice", "long-tuple"],
)
def test_very_long_specs_give_short_one_line_errors(spec):
    msg = one_line_error(actlab.get, spec)
    assert len(msg) < 400


@pytest.mark.parametrize("spec", ["elu(1if 1 else 2)", "prelu(init=0.init=0.1)"])
def test_bad_spec_emits_no_python_warning(spec):
    """Python's parser warns about '1if' ('invalid decimal literal'); the user sees only the one-line error."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        one_line_error(actlab.get, spec)
    assert [str(w.message) for w in caught] == []


def test_spec_text_is_never_executed(tmp_path):
    target = tmp_path / "pwned"
    p = str(target)
    attacks = [
        f"relu(open({p!r}, 'w'))",
        f"relu(x=open({p!r}, 'w'))",
        f"relu(__import__('pathlib').Path({p!r}).touch())",
        f"relu(__import__('os').system('touch {p}'))",
        f"relu(x=[open({p!r}, 'w')])",
        f"relu(x=(open({p!r}, 'w'),))",
        f"relu(f\"{{open({p!r}, 'w')}}\")",
        f"relu(x=lambda: open({p!r}, 'w'))",
        f"relu(*[open({p!r}, 'w')])",
        f"relu(**{{'x': open({p!r}, 'w')}})",
        f"relu(x=(yield open({p!r}, 'w')))",
        f"relu(x=[open({p!r}, 'w') for _ in (1,)])",
        f"relu(x:=open({p!r}, 'w'))",
        f"relu() or open({p!r}, 'w')",
        f"open({p!r}, 'w')",
        f"__import__('pathlib').Path({p!r}).touch()",
    ]
    for spec in attacks:
        for make in (actlab.get, actlab.functional, actlab.lookup):
            one_line_error(make, spec)
            assert not target.exists(), spec
    # the same code, run as code, does create the file: the check above can fail
    exec(f"open({p!r}, 'w').close()")
    assert target.exists()


# --------------------------------------------------------------------------- fuzzing

VALID = [
    "relu",
    "leaky_relu(negative_slope=0.1)",
    "elu(alpha=0.5)",
    "softplus(beta=2.0, threshold=10.0)",
    "hardtanh(-2.0, 2.0)",
    "softmax(dim=1)",
    "threshold(0.5, -1.0)",
    "frelu(kernel_size=5)",
    "step(threshold=0.2)",
    "prelu(init=0.1)",
    "rrelu(lower=0.1, upper=0.2)",
    "squareplus(b=1.0)",
    "snake(alpha=2.0)",
    "gumbel_softmax(tau=0.5)",
    "celu(1.5)",
    "glu(dim=1)",
    "isru(alpha=0.5)",
    "star_relu(scale=1.0, bias=0.0)",
]
ALPHABET = string.ascii_letters + string.digits + "()[]{}=,.:;'\"_-+*/\\ \t\n@!#$%^&|<>?~`" + "é∑\x00"
TOKENS = [
    "relu",
    "elu",
    "alpha",
    "=",
    "(",
    ")",
    ",",
    "1",
    "0.5",
    "-",
    "'a'",
    "None",
    "True",
    "1e999",
    "[",
    "]",
    "lambda",
    ":",
    "__import__",
    ".",
    "dim",
    "x",
    "*",
    "**",
    "f'",
    "{",
    "}",
    " ",
    "\n",
    "#",
    "1j",
    "nan",
]


def mutate(rng: random.Random, s: str) -> str:
    for _ in range(rng.randint(1, 3)):
        i = rng.randrange(len(s) + 1)
        op = rng.randrange(5)
        if op == 0:  # insert a character
            s = s[:i] + rng.choice(ALPHABET) + s[i:]
        elif op == 1 and s:  # delete a character
            s = s[:i] + s[i + 1 :]
        elif op == 2 and s:  # replace a character
            s = s[:i] + rng.choice(ALPHABET) + s[i + 1 :]
        elif op == 3:  # insert a token
            s = s[:i] + rng.choice(TOKENS) + s[i:]
        else:  # duplicate a slice
            j = rng.randrange(len(s) + 1)
            a, b = sorted((i, j))
            s = s[:b] + s[a:b] + s[b:]
    return s


def fuzz_cases(n_random: int = 1500, n_tokens: int = 1500, n_mutations: int = 2500, seed: int = 0) -> list[str]:
    rng = random.Random(seed)
    cases = ["".join(rng.choice(ALPHABET) for _ in range(rng.randint(0, 40))) for _ in range(n_random)]
    cases += [
        rng.choice(VALID).split("(")[0] + "".join(rng.choice(TOKENS) for _ in range(rng.randint(0, 8)))
        for _ in range(n_tokens)
    ]
    cases += [mutate(rng, rng.choice(VALID)) for _ in range(n_mutations)]
    return cases


def run_fuzz(cases: list[str]) -> tuple[int, int]:
    """Every case through get() and functional(); returns (accepted, rejected)."""
    accepted = rejected = 0
    for spec in cases:
        for make in (actlab.get, actlab.functional):
            try:
                out = make(spec)
            except ActlabError as e:
                msg = str(e)
                assert msg.strip() and "\n" not in msg and "\r" not in msg, (spec, msg)
                assert len(msg) < 400, (spec, msg)
                rejected += 1
            except Exception as e:  # anything else is a bug
                pytest.fail(f"{make.__name__}({spec!r}) raised {type(e).__name__}: {e}")
            else:
                assert callable(out)
                if make is actlab.get:
                    assert isinstance(out, nn.Module)
                accepted += 1
    return accepted, rejected


def test_fuzz_only_actlab_errors_with_one_line_messages():
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        accepted, rejected = run_fuzz(fuzz_cases())
    # a one-line error and nothing else: no SyntaxWarning or other noise on the way
    assert [str(w.message) for w in caught] == []
    # not vacuous: many rejected, and mutations of valid specs are sometimes still valid
    assert rejected > 5000 and accepted > 200, (accepted, rejected)


# --------------------------------------------------------------------------- register


def test_register_makes_a_name_usable_everywhere(registry):
    calls = []

    def tanh_plus(x, k=1.0):
        calls.append(1)
        return torch.tanh(x) + k * x

    actlab.register(
        "tanh_plus", tanh_plus, formula=r"\tanh(x) + kx", params={"k": 1.0}, range=(-float("inf"), float("inf"))
    )
    assert "tanh_plus" in [e.name for e in actlab.entries()] and actlab.lookup("tanh_plus").kind == "user"
    torch.testing.assert_close(actlab.functional("tanh_plus")(X), torch.tanh(X) + X)
    torch.testing.assert_close(actlab.get("tanh_plus")(X), torch.tanh(X) + X)
    torch.testing.assert_close(actlab.get("tanh_plus(k=0.5)")(X), torch.tanh(X) + 0.5 * X)
    assert "must be float" in one_line_error(actlab.get, "tanh_plus(k='big')")
    assert actlab.lookup("TanhPlus") is actlab.lookup("tanh_plus")  # same lookup rules as built-ins

    # in a model of actlab.models, by name
    from actlab.models import build

    model = build("mlp", (4,), 3, "tanh_plus")
    mine = [m for m in model.modules() if isinstance(m, Activation) and m.name == "tanh_plus"]
    assert mine
    calls.clear()
    assert model(torch.randn(5, 4)).shape == (5, 3)
    assert len(calls) == len(mine)

    # and in a model of the user's, by swapping
    net = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2))
    actlab.swap_activations(net, "tanh_plus")
    calls.clear()
    net(torch.randn(3, 4))
    assert len(calls) == 1


def test_register_as_decorator(registry):
    @actlab.register("cube_act", formula="x^3", aliases=("cubic_act",))
    def cube(x):
        """Cube of the input."""
        return x**3

    assert cube(torch.tensor(2.0)) == 8  # the decorator returns the function
    assert actlab.lookup("cubic_act") is actlab.lookup("cube_act")
    assert actlab.lookup("cube_act").note == "Cube of the input."
    torch.testing.assert_close(actlab.get("cubic_act")(X), X**3)


def test_register_refuses_taken_names_unless_replace(registry):
    actlab.register("my_act", lambda x: 2 * x)
    assert "already taken" in one_line_error(actlab.register, "my_act", lambda x: 3 * x)
    assert "already taken" in one_line_error(actlab.register, "relu", lambda x: x)
    assert "already taken" in one_line_error(actlab.register, "My-Act", lambda x: x)  # same lookup key
    assert "already taken" in one_line_error(actlab.register, "other_act", lambda x: x, aliases=("swish",))
    torch.testing.assert_close(actlab.functional("my_act")(X), 2 * X)  # unchanged by the refusals
    torch.testing.assert_close(actlab.functional("relu")(X), F.relu(X))
    assert "other_act" not in REGISTRY

    actlab.register("my_act", lambda x: 3 * x, replace=True)
    torch.testing.assert_close(actlab.functional("my_act")(X), 3 * X)
    assert [e.name for e in actlab.entries()].count("my_act") == 1


@pytest.mark.parametrize("name", ["1act", "my act", "act(x)", "", "a;b"])
def test_register_refuses_bad_names(registry, name):
    one_line_error(actlab.register, name, lambda x: x)


def test_registry_is_restored():
    """The ``registry`` fixture really removes what a test registered (no leakage between tests)."""
    with restored_registry():
        actlab.register("restore_probe", lambda x: x, aliases=("restore_alias",))
        assert "restore_probe" in REGISTRY and "restore_alias" in REGISTRY
    assert "restore_probe" not in REGISTRY and "restore_alias" not in REGISTRY and "relu" in REGISTRY


# --------------------------------------------------------------------------- pass-through specs


def test_callables_modules_and_none_pass_through():
    m = nn.Tanh()
    assert actlab.get(m) is m

    def double(x):
        return 2 * x

    wrapped = actlab.get(double)
    assert isinstance(wrapped, nn.Module) and isinstance(wrapped, Activation)
    torch.testing.assert_close(wrapped(X), 2 * X)
    assert actlab.functional(double) is double
    lam = actlab.get(lambda x: x + 1)
    torch.testing.assert_close(lam(X), X + 1)

    assert isinstance(actlab.get(None), nn.Identity)
    assert actlab.functional(None)(X) is X
    torch.testing.assert_close(actlab.get("linear")(X), X)


@pytest.mark.parametrize(
    "spec", [3, 2.5, b"relu", ["relu"], {"relu": 1}], ids=["int", "float", "bytes", "list", "dict"]
)
def test_other_spec_types_are_refused(spec):
    assert "spec must be" in one_line_error(actlab.get, spec)
    assert "spec must be" in one_line_error(actlab.functional, spec)

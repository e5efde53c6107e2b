"""The fast path for composite and evolved activations: forward-mode derivatives of expression
trees agree with autograd (every primitive, at kinks and ties, and on random trees), and
``actlab.fast`` gives the eager function's values and gradients through its compiled kernel,
keeps eager where it must or where it measured slower, trains a real model, and fails clearly."""

from __future__ import annotations

import copy
import os
import pickle
import subprocess
import sys

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import actlab
from actlab import ActlabError
from actlab.catalogue import _fast as FA
from actlab.catalogue import expr as E
from actlab.catalogue.expr.compile import _tanh_from_exp
from tests.test_expr import trees

COMPOSITE = "expr:x * sigmoid(1.5 * x) + 0.1 * tanh(x)"
# kinks, bounds and thresholds of the primitives, where autograd's conventions decide the gradient
SPECIAL = [-20.5, -3.0, -1.0, -0.5, -1e-7, 0.0, 1e-7, 0.5, 1.0, 3.0, 20.0, 20.5]


def autograd_value_and_grad(node, x: torch.Tensor):
    x = x.detach().clone().requires_grad_()
    y = E.compile_torch(node)(x, False)
    if not y.requires_grad:  # a constant tree
        return y.detach(), torch.zeros_like(x)
    (g,) = torch.autograd.grad(y.sum(), x, allow_unused=True)
    return y.detach(), torch.zeros_like(x) if g is None else g


def dual_value_and_grad(node, x: torch.Tensor, inductor: bool = False):
    y, d = E.compile_dual(node, inductor)(x)
    return y, torch.as_tensor(d, dtype=x.dtype).expand_as(x)


@pytest.mark.parametrize("inductor", [False, True])
@pytest.mark.parametrize("name", list(E.PRIMITIVES))
def test_each_primitive_derivative_is_autograds(name, inductor):
    """Unary f(x); binary f(x, 0.7x + 0.3) and f(x, x) (a tie everywhere) and against a constant."""
    p = E.PRIMITIVES[name]
    x = torch.tensor(SPECIAL + list(np.linspace(-4, 4, 81)), dtype=torch.float64)
    texts = (
        [f"{name}(x)"]
        if p.arity == 1
        else [f"{name}(x, 0.7 * x + 0.3)", f"{name}(x, x)", f"{name}(x, 0.5)", f"{name}(-1.5, x)"]
    )
    for text in texts:
        node = E.parse(text)
        ya, ga = autograd_value_and_grad(node, x)
        yb, gb = dual_value_and_grad(node, x, inductor)
        np.testing.assert_allclose(yb.numpy(), ya.numpy(), rtol=1e-12, atol=1e-12, err_msg=text)
        np.testing.assert_allclose(gb.numpy(), ga.numpy(), rtol=1e-9, atol=1e-12, err_msg=text)


def test_derivative_comparison_can_fail():
    """A wrong rule is caught: relu'(0) = 1 instead of autograd's 0."""
    node = E.parse("relu(x)")
    x = torch.tensor([0.0, 1.0], dtype=torch.float64)
    _, ga = autograd_value_and_grad(node, x)
    assert ga[0] == 0.0 and not torch.equal(ga, (x >= 0).double())


@settings(max_examples=300, deadline=None)
@given(trees(8), st.integers(0, 2**31 - 1), st.booleans())
def test_random_trees_derivative_is_autograds(tree, seed, inductor):
    x = torch.tensor(np.random.default_rng(seed).normal(0, 3, 64), dtype=torch.float64)
    ya, ga = autograd_value_and_grad(tree, x)
    yb, gb = dual_value_and_grad(tree, x, inductor)
    ok = torch.isfinite(ga) & torch.isfinite(gb) & (ga.abs() < 1e6) & (ya.abs() < 1e6)
    assert torch.equal(torch.isfinite(ya), torch.isfinite(yb))
    np.testing.assert_allclose(yb[ok].numpy(), ya[ok].numpy(), rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(gb[ok].numpy(), ga[ok].numpy(), rtol=1e-6, atol=1e-6)


def test_tanh_for_inductor_is_tanh_in_float32():
    x = torch.linspace(-60, 60, 200_001)
    t = _tanh_from_exp(x)
    assert torch.isfinite(t).all()
    assert float((t - torch.tanh(x)).abs().max()) < 3e-7


# --------------------------------------------------------------------------------- actlab.fast
def values_and_grads(module, x, g):
    x = x.detach().clone().requires_grad_()
    y = module(x)
    (gx,) = torch.autograd.grad(y, x, g)
    return y.detach(), gx


@pytest.mark.parametrize("spec", [COMPOSITE, "expr:max(x, x*tanh(x))", "mish", "expr:square(x) + 0.8"])
def test_compiled_kernel_gives_the_eager_values_and_gradients(spec):
    m = actlab.fast(spec, mode="compiled")
    assert m.choice == "compiled" and m._kernel is not None
    gen = torch.Generator().manual_seed(0)
    for shape in [(32, 17), (5, 3, 8, 8), (1000,)]:  # sizes differ: the kernel is made per size
        x, g = torch.randn(shape, generator=gen) * 3, torch.randn(shape, generator=gen)
        ya, ga = values_and_grads(m.eager, x, g)
        yb, gb = values_and_grads(m, x, g)
        torch.testing.assert_close(yb, ya, rtol=1e-5, atol=1e-6)
        torch.testing.assert_close(gb, ga, rtol=1e-5, atol=1e-6)
        with torch.no_grad():  # without gradients the eager function runs, exactly
            assert torch.equal(m(x), m.eager(x))
    with pytest.raises(RuntimeError):  # no second derivative through the kernel, loudly
        x = torch.randn(8, requires_grad=True)
        (gx,) = torch.autograd.grad(m(x).sum(), x, create_graph=True)
        torch.autograd.grad(gx.sum(), x)


def test_every_function_gets_its_own_compiled_kernel():
    """Past Dynamo's recompile limit (8 per code object) a shared kernel source would silently run
    uncompiled: ten functions, ten graphs."""
    from torch._dynamo.utils import counters

    specs = [f"expr:x * sigmoid({c} * x)" for c in (0.5, 0.75, 1.25, 1.5, 1.75, 2.0, 2.25, 2.5, 2.75, 3.0)]
    for spec in specs:
        before = counters["stats"]["unique_graphs"]
        m = actlab.fast(spec, mode="compiled")
        assert m.choice == "compiled" and counters["stats"]["unique_graphs"] == before + 1, spec


@pytest.mark.parametrize(
    "spec,why",
    [
        ("prelu", "learnable parameters"),
        ("rrelu", "random numbers in training"),
        ("softmax", "not element-wise"),
        ("frelu", "not element-wise"),
        ("expr:rrelu(x) * 2", "random numbers"),
        ("floor", "zero gradient"),
    ],
)
def test_eager_where_the_kernel_cannot_be_right(spec, why):
    m = actlab.fast(spec, mode="compiled")
    assert m.choice.startswith("eager:") and why in m.choice and m._kernel is None
    assert why in repr(m)


def test_auto_keeps_what_it_measured_faster_and_remembers():
    m = actlab.fast(COMPOSITE, probe_shape=(256, 64))
    t = m.timings
    assert set(t) == {"eager_s", "compiled_s", "compile_s", "probe_shape"} and t["probe_shape"] == (256, 64)
    assert t["eager_s"] > 0 and t["compiled_s"] > 0
    assert m.choice == ("compiled" if t["compiled_s"] <= FA.WIN * t["eager_s"] else "eager")
    assert "measured on (256, 64)" in repr(m)
    again = actlab.fast(COMPOSITE, probe_shape=(256, 64))
    assert again.timings is t  # measured once per spec and probe in a process
    assert actlab.fast(COMPOSITE, mode="eager").choice == "eager"


def test_a_model_with_fast_activations_trains_like_the_eager_one(digits):
    from actlab.models import build
    from actlab.training import TrainConfig, train

    cfg = TrainConfig(epochs=3, batch_size=64, seed=0, diagnostics=True)
    results = {}
    for name, act in [
        ("eager", lambda: actlab.get(COMPOSITE)),
        ("fast", lambda: actlab.fast(COMPOSITE, mode="compiled")),
    ]:
        results[name] = train(
            lambda act=act: build("mlp", digits.input_shape, digits.n_classes, act(), width=32, depth=2), digits, cfg
        )
    a, b = results["eager"], results["fast"]
    assert a.status == b.status == "finished"
    for ea, eb in zip(a.epochs, b.epochs, strict=True):
        assert ea["train_loss"] == pytest.approx(eb["train_loss"], abs=1e-4)
        assert ea["val_loss"] == pytest.approx(eb["val_loss"], abs=1e-4)
    assert b.test["accuracy"] > 0.7  # it learnt (chance is 0.1): digits, 3 epochs


def test_copy_pickle_and_state_dict():
    m = actlab.fast(COMPOSITE, mode="compiled")
    x = torch.randn(4, 6, requires_grad=True)
    for twin in (copy.deepcopy(m), pickle.loads(pickle.dumps(m))):
        assert twin.choice == "compiled" and twin._kernel is not None
        torch.testing.assert_close(twin(x), m(x))
    model = torch.nn.Sequential(torch.nn.Linear(6, 3), m)
    assert list(model.state_dict()) == ["0.weight", "0.bias"]


def test_load_best_json_fast(tmp_path):
    import json

    p = tmp_path / "best.json"
    p.write_text(
        json.dumps({"format": "actlab-evolve-best", "mode": "single", "functions": {"all": "max(x, x*tanh(x))"}})
    )
    m = actlab.load(p, fast=True)
    assert isinstance(m, actlab.FastActivation) and m.spec == "expr:max(x, x*tanh(x))"
    x = torch.randn(64, 8)
    torch.testing.assert_close(m(x), actlab.load(p)(x))


def test_bad_input_is_one_line():
    for call, what in [
        (lambda: actlab.fast(COMPOSITE, mode="turbo"), "choose one of auto, eager, compiled"),
        (lambda: actlab.fast(torch.relu), "spec string"),
        (lambda: actlab.fast("relux"), "unknown activation"),
    ]:
        with pytest.raises(ActlabError) as e:
            call()
        assert what in str(e.value) and "\n" not in str(e.value)


def test_without_a_compiler_auto_stays_eager_and_compiled_says_why(tmp_path):
    """A real failure: Inductor pointed at a C++ compiler that does not exist, in a fresh process
    with an empty Inductor cache."""
    code = (
        "import actlab, torch\n"
        f"m = actlab.fast({COMPOSITE!r}, probe_shape=(64, 8))\n"
        "print('CHOICE', m.choice)\n"
        "x = torch.randn(5, requires_grad=True); m(x).sum().backward()\n"
        "print('GRAD', bool(torch.isfinite(x.grad).all()))\n"
        f"actlab.fast({COMPOSITE!r}, mode='compiled')\n"
    )
    env = {**os.environ, "CXX": str(tmp_path / "no-such-compiler"), "TORCHINDUCTOR_CACHE_DIR": str(tmp_path / "cache")}
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=300)
    assert "CHOICE eager: compiling failed" in r.stdout, r.stdout + r.stderr[-2000:]
    assert "GRAD True" in r.stdout
    assert r.returncode != 0 and "ActlabError: cannot compile" in r.stderr

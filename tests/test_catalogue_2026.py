"""The learnable and gated entries (PAU, ACON, meta-ACON, APL, SMU, StarReLU, xIELU, Snake, SwiGLU,
GEGLU, ReGLU) against their papers' definitions, written here again in NumPy:

* the modules at parameters other than their initial ones, per layer or per channel;
* what the papers derive from the definitions (special cases, limits, gradients);
* gradients of input and parameters by ``torch.autograd.gradcheck`` in float64;
* channel counts inferred at the first call, and one-line errors;
* which of them packed training accepts, and packed = alone for those;
* every parameter receives a gradient and changes in a short real training (iris).

The whole-table tests of test_catalogue.py cover their functions (NumPy references, properties,
formulas, module = function at the initial parameters).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy import special
from torch import nn

import actlab
from actlab.catalogue import learnable as L
from actlab.data import load
from actlab.models import build
from actlab.training import TrainConfig, train
from actlab.training.population import packable, train_population

NEW = [
    "swiglu",
    "geglu",
    "reglu",
    "pau",
    "acon_c",
    "meta_acon",
    "apl",
    "smu",
    "star_relu_learnable",
    "xielu",
    "snake_learnable",
]
PER_LAYER = ["pau", "smu", "star_relu_learnable", "xielu"]  # scalars shared by the layer, as in the papers


def rng_tensor(*shape, seed=0, scale=1.0, shift=0.0):
    return torch.tensor(np.random.default_rng(seed).normal(size=shape) * scale + shift)


def assign(module: nn.Module, **values) -> nn.Module:
    with torch.no_grad():
        for name, v in values.items():
            module.get_parameter(name).copy_(v)
    return module


# --------------------------------------------------------------------------- values at given parameters


def test_acon_c_per_channel_matches_the_definition():
    x = rng_tensor(4, 3, 5, scale=3)
    m = actlab.get("acon_c").double()
    m(x)  # sizes it: 3 channels
    p1, p2, beta = rng_tensor(3, seed=1), rng_tensor(3, seed=2), rng_tensor(3, seed=3, scale=0.5, shift=1)
    assign(m, p1=p1, p2=p2, beta=beta)
    c = lambda v: v.numpy()[None, :, None]  # noqa: E731
    d = (c(p1) - c(p2)) * x.numpy()
    want = d * special.expit(c(beta) * d) + c(p2) * x.numpy()
    np.testing.assert_allclose(m(x).detach().numpy(), want, rtol=1e-12, atol=1e-12)
    # the paper's special cases: p1 = 1, p2 = 0 is Swish_beta; a large beta gives max(p1 x, p2 x)
    z = torch.linspace(-6, 6, 121, dtype=torch.float64)
    torch.testing.assert_close(L.acon_c(z, 1.0, 0.0, 1.7), z * torch.sigmoid(1.7 * z))
    far = z[z.abs() > 0.05]
    torch.testing.assert_close(L.acon_c(far, 1.0, 0.25, 1e4), torch.maximum(far, 0.25 * far))


def test_meta_acon_generates_beta_from_each_example():
    x = rng_tensor(5, 20, 3, 3, scale=2)
    m = actlab.get("meta_acon(p1=1.5, p2=0.1)").double()
    m(x)
    assert m.fc1.weight.shape == (16, 20) and m.fc2.weight.shape == (20, 16)  # max(r, C // r), r = 16
    assert (m.fc2.weight == 0).all() and (m.p1 == 1.5).all() and (m.p2 == 0.1).all()
    assign(m, **{"fc2.weight": rng_tensor(20, 16, seed=4, scale=0.3), "fc2.bias": rng_tensor(20, seed=5)})
    xn = x.numpy()
    pooled = xn.mean((2, 3))
    w1, b1 = m.fc1.weight.detach().numpy(), m.fc1.bias.detach().numpy()
    w2, b2 = m.fc2.weight.detach().numpy(), m.fc2.bias.detach().numpy()
    beta = special.expit((pooled @ w1.T + b1) @ w2.T + b2)[:, :, None, None]
    want = L.acon_c_numpy(xn, 1.5, 0.1, beta)
    np.testing.assert_allclose(m(x).detach().numpy(), want, rtol=1e-12, atol=1e-12)
    # beta depends on the example: one example's output changes when another channel of it changes
    y = m(x)
    x2 = x.clone()
    x2[0, 1] += 1.0
    changed = (m(x2) - y).abs().amax((2, 3)) > 1e-9
    assert changed[0, 0] and not changed[1:].any()


def test_apl_per_channel_matches_the_definition():
    x = rng_tensor(6, 4, scale=2)
    m = actlab.get("apl(hinges=3)").double()
    m(x)
    assert m.a.shape == (4, 3) and (m.a == 0).all()
    torch.testing.assert_close(
        m.b[0], 0.5 * torch.special.ndtri(torch.tensor([1 / 6, 1 / 2, 5 / 6], dtype=torch.float64))
    )
    a, b = rng_tensor(4, 3, seed=1, scale=0.5), rng_tensor(4, 3, seed=2)
    assign(m, a=a, b=b)
    want = L.apl_numpy(x.numpy(), a.numpy()[None], b.numpy()[None])
    np.testing.assert_allclose(m(x).detach().numpy(), want, rtol=1e-12, atol=1e-12)
    # piecewise linear: slope 1 - sum of the active hinges' a on the left of every hinge
    t = torch.tensor([-10.0], dtype=torch.float64).expand(1, 4).clone().requires_grad_()
    (g,) = torch.autograd.grad(m(t).sum(), t)
    torch.testing.assert_close(g[0], -a.sum(1))


def test_snake_per_channel_matches_the_definition_and_is_monotonic():
    x = rng_tensor(3, 5, 7, scale=3)
    m = actlab.get("snake_learnable").double()
    m(x)
    alpha = rng_tensor(5, seed=1, scale=0.3, shift=1.0)
    assign(m, alpha=alpha)
    a = alpha.numpy()[None, :, None]
    np.testing.assert_allclose(
        m(x).detach().numpy(), x.numpy() + np.sin(a * x.numpy()) ** 2 / a, rtol=1e-12, atol=1e-12
    )
    t = torch.linspace(-8, 8, 801, dtype=torch.float64).expand(5, -1).T.contiguous()
    assert (m(t).diff(dim=0) >= -1e-12).all()  # f' = 1 + sin(2 alpha x) >= 0
    with pytest.raises(actlab.ActlabError, match="alpha must not be 0"):
        actlab.get("snake_learnable(alpha=0.0)")


def test_pau_is_a_safe_rational_function_started_at_leaky_relu():
    m = actlab.get("pau").double()
    num, den = rng_tensor(6, seed=1), rng_tensor(4, seed=2)  # negative b_k too: the denominator keeps |b_k|
    assign(m, numerator=num, denominator=den)
    x = rng_tensor(200, scale=4)
    xn = x.numpy()
    q = 1 + sum(abs(den.numpy()[k]) * np.abs(xn) ** (k + 1) for k in range(4))
    p = sum(num.numpy()[j] * xn**j for j in range(6))
    np.testing.assert_allclose(m(x).detach().numpy(), p / q, rtol=1e-10, atol=1e-12)
    assert torch.isfinite(m(torch.linspace(-50, 50, 10001, dtype=torch.float64))).all()  # no poles
    # the initial coefficients approximate leaky ReLU (slope 0.01) on [-3, 3], and not Keras' 0.2
    z = torch.linspace(-3, 3, 601, dtype=torch.float64)
    assert (L.pau(z) - torch.where(z >= 0, z, 0.01 * z)).abs().max() < 0.04
    assert (L.pau(z) - torch.where(z >= 0, z, 0.2 * z)).abs().max() > 0.5
    assert len(list(m.parameters())) == 2 and m.numerator.numel() == 6  # one set per layer


def test_smu_matches_the_definition_and_its_special_cases():
    x = torch.linspace(-5, 5, 201, dtype=torch.float64)
    m = actlab.get("smu(alpha=0.1, mu=2.5)").double()
    np.testing.assert_allclose(m(x).detach().numpy(), L.smu_numpy(x.numpy(), 0.1, 2.5), rtol=1e-12, atol=1e-14)
    assert m.alpha == 0.1 and [p.shape for p in m.parameters()] == [(1,)]  # mu learned, alpha fixed
    # GELU is the case alpha = 0, mu = 1/sqrt(2); a large mu gives leaky ReLU max(x, alpha x)
    torch.testing.assert_close(L.smu(x, 0.0, 1 / math.sqrt(2)), torch.nn.functional.gelu(x))
    far = x[x.abs() > 1e-3]
    torch.testing.assert_close(L.smu(far, 0.25, 1e6), torch.maximum(far, 0.25 * far))


def test_star_relu_learnable_matches_and_normalises_a_standard_normal():
    m = actlab.get("star_relu_learnable(scale=1.5, bias=0.25)").double()
    x = rng_tensor(100, scale=2)
    np.testing.assert_allclose(m(x).detach().numpy(), 1.5 * np.maximum(x.numpy(), 0) ** 2 + 0.25, rtol=1e-12)
    # MetaFormer's initial s and b: output mean 0 and variance 1 for N(0, 1) input
    z = rng_tensor(1_000_000, seed=7)
    y = actlab.get("star_relu_learnable").double()(z).detach()
    assert abs(float(y.mean())) < 0.01 and abs(float(y.std()) - 1) < 0.01
    assert {n for n, _ in m.named_parameters()} == {"scale", "bias"}


def test_xielu_matches_the_definition_and_its_gradients():
    m = actlab.get("xielu(alpha_p=1.3, alpha_n=0.9, beta=0.4)").double()
    a_p, a_n = (
        float(m.alpha_p.detach()),
        float(m.alpha_n.detach()),
    )  # through softplus of float32 raw values: 1.3 and 0.9 to 1e-7
    assert a_p == pytest.approx(1.3, rel=1e-6) and a_n == pytest.approx(0.9, rel=1e-6)
    x = rng_tensor(300, scale=3)
    np.testing.assert_allclose(m(x).detach().numpy(), L.xielu_numpy(x.numpy(), a_p, a_n, 0.4), rtol=1e-12, atol=1e-12)
    # the reference's parameterisation keeps alpha_p > 0 and alpha_n > beta whatever the raw values
    assign(m, a_p=torch.tensor([-30.0]), a_n=torch.tensor([-30.0]))
    assert float(m.alpha_p.detach()) > 0 and float(m.alpha_n.detach()) > 0.4
    # the paper's gradients: 2 alpha_p x + beta above zero (linearly increasing); below, alpha_n e^x - alpha_n + beta,
    # which tends to beta - alpha_n < 0 (a negative gradient for large negative inputs)
    m = actlab.get("xielu").double()
    t = torch.tensor([-20.0, -1.0, 0.5, 2.0], dtype=torch.float64, requires_grad=True)
    (g,) = torch.autograd.grad(m(t).sum(), t)
    want = [0.8 * math.exp(-20) - 0.3, 0.8 * math.exp(-1) - 0.3, 2 * 0.8 * 0.5 + 0.5, 2 * 0.8 * 2 + 0.5]
    torch.testing.assert_close(g, torch.tensor(want, dtype=torch.float64), rtol=1e-7, atol=1e-7)
    with pytest.raises(actlab.ActlabError, match="alpha_n > beta"):
        actlab.get("xielu(alpha_n=0.3)")


@pytest.mark.parametrize("name, gate", [("swiglu", "silu"), ("geglu", "gelu"), ("reglu", "relu")])
def test_gated_units_match_shazeers_definitions(name, gate):
    # as an activation slot: d features in and out, starting as x * gate(x)
    m = actlab.get(name).double()
    x = rng_tensor(7, 5, scale=2)
    y = m(x)
    assert isinstance(m, L.GatedUnit) and y.shape == (7, 5) and m.weight.shape == (10, 5)
    torch.testing.assert_close(y, x * L.GATES[gate][0](x))
    # at other weights: gate(x W^T + b) * (x V^T + c), W and V stacked
    w, b = rng_tensor(10, 5, seed=1, scale=0.5), rng_tensor(10, seed=2)
    assign(m, weight=w, bias=b)
    np.testing.assert_allclose(
        m(x).detach().numpy(), L.gated_numpy(x.numpy(), w.numpy(), b.numpy(), gate), rtol=1e-12, atol=1e-12
    )
    # sized (a transformer's first MLP layer): d -> h along dim 1, initialised like nn.Linear
    torch.manual_seed(0)
    u = L.GatedUnit(gate, 6, 9).double()
    assert u.init == "linear" and u.weight.shape == (18, 6) and u.weight.abs().max() <= 1 / math.sqrt(6)
    z = rng_tensor(2, 6, 4)
    want = L.gated_numpy(z.numpy().transpose(0, 2, 1), u.weight.detach().numpy(), u.bias.detach().numpy(), gate)
    np.testing.assert_allclose(u(z).detach().numpy(), want.transpose(0, 2, 1), rtol=1e-12, atol=1e-12)


# --------------------------------------------------------------------------- gradients of input and parameters


def _materialised(spec: str, x: torch.Tensor, seed: int = 0) -> nn.Module:
    """The module of ``spec`` sized for ``x``, its parameters moved off their initial values."""
    torch.manual_seed(seed)
    m = actlab.get(spec).double()
    m(x)
    with torch.no_grad():
        for p in m.parameters():
            p.add_(0.3 * torch.randn_like(p))
    return m


@pytest.mark.parametrize("spec", NEW)
def test_gradcheck_of_input_and_parameters(spec):
    x = rng_tensor(4, 3, scale=2).requires_grad_(True)
    m = _materialised(spec, x.detach())
    names = [n for n, _ in m.named_parameters()]
    params = tuple(p.detach().clone().requires_grad_(True) for _, p in m.named_parameters())

    def f(x, *ps):
        return torch.func.functional_call(m, dict(zip(names, ps, strict=True)), (x,))

    assert torch.autograd.gradcheck(f, (x, *params), eps=1e-6, atol=1e-5, rtol=1e-3)


# --------------------------------------------------------------------------- sizes and errors


def test_channels_are_inferred_once_and_another_width_is_one_line():
    m = actlab.get("acon_c")
    assert m.channels is None
    m(torch.zeros(2, 8, 3))
    assert m.channels == 8 and m.p1.shape == (8,)
    with pytest.raises(actlab.ActlabError, match="sized for 8 channels") as e:
        m(torch.zeros(2, 5))
    assert "\n" not in str(e.value)
    g = actlab.get("swiglu")
    g(torch.zeros(3, 4))
    with pytest.raises(actlab.ActlabError, match="sized for 4 features"):
        g(torch.zeros(3, 6))
    assert L.ACON(channels=5).p1.shape == (5,) and L.APL(hinges=4, channels=2).b.shape == (2, 4)
    assert actlab.get("snake_learnable")(torch.zeros(7)).shape == (7,)  # a 1-D input is one channel
    with pytest.raises(actlab.ActlabError, match="'hinges' must be from 1 to 64"):
        actlab.get("apl(hinges=0)")
    with pytest.raises(actlab.ActlabError, match="identity"):
        L.GatedUnit("silu", 4, 6, init="identity")


def test_modules_are_fresh_and_learnable():
    for name in NEW:
        a, b = actlab.get(name), actlab.get(name)
        a(torch.zeros(2, 3))
        b(torch.zeros(2, 3))
        pa, pb = list(a.parameters()), list(b.parameters())
        assert pa and all(p.requires_grad for p in pa) and all(p is not q for p, q in zip(pa, pb, strict=True)), name
        assert actlab.lookup(name).kind == "learnable"
        assert actlab.fast(name, mode="compiled").choice.startswith("eager: ")  # parameters: never compiled


# --------------------------------------------------------------------------- packing


def test_packing_refuses_what_a_pack_would_size_wrongly():
    for name in NEW:
        assert packable("mlp", name) == (name in PER_LAYER), name  # per channel or gated: trained alone
    assert packable("mlp", {"input": "relu", "hidden": "pau"}) and not packable(
        "mlp", {"input": "relu", "hidden": "apl"}
    )


@pytest.fixture(scope="module")
def iris():
    return load("iris", seed=0)


def test_per_layer_entries_train_packed_as_if_alone(iris):
    import dataclasses

    was = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)  # packed = alone to the last bits in float64
    try:
        data = dataclasses.replace(
            iris,
            **{
                s: dataclasses.replace(getattr(iris, s), x=getattr(iris, s).x.double())
                for s in ("train", "val", "test")
            },
        )
        cfg = TrainConfig(epochs=3, batch_size=16, lr=3e-3, patience=None, diagnostics=False, threads=1, fused=False)
        opts = {"width": 16, "depth": 3}
        packed = train_population(PER_LAYER, data, cfg, opts)
        for plan, p in zip(PER_LAYER, packed, strict=True):
            one = train(lambda plan=plan: build("mlp", data.input_shape, data.n_classes, plan, **opts), data, cfg)
            assert [e["train_loss"] for e in p.epochs] == pytest.approx(
                [e["train_loss"] for e in one.epochs], rel=1e-10
            )
            assert p.test["accuracy"] == one.test["accuracy"]
    finally:
        torch.set_default_dtype(was)


# --------------------------------------------------------------------------- real training


@pytest.mark.parametrize("name", NEW)
def test_parameters_receive_gradients_and_change_in_a_short_training(name, iris):
    torch.manual_seed(0)
    model = build("mlp", iris.input_shape, iris.n_classes, name, width=16, depth=3)
    model(iris.train.x[:2])  # sizes per-channel parameters, as the trainer does
    before = {n: p.detach().clone() for n, p in model.acts.named_parameters()}
    assert before
    r = train(model, iris, TrainConfig(epochs=2, batch_size=16, lr=1e-2, patience=None, restore_best=False, threads=1))
    assert r.status == "finished" and all(math.isfinite(e["train_loss"]) for e in r.epochs)
    for n, p in model.acts.named_parameters():
        assert torch.isfinite(p).all() and not torch.equal(p.detach(), before[n]), f"{name}: {n} did not change"
    assert set(r.diagnostics) == {"input", "hidden_1", "output"}


def test_entries_that_learn_to_mix_features_say_so():
    """Gated units and meta-ACON are element-wise only at their starting values."""
    from actlab.report.gallery import property_rows

    mixing = sorted(e.name for e in actlab.entries() if e.mixes_features)
    assert mixing == ["geglu", "meta_acon", "reglu", "swiglu"]
    applies = dict(property_rows(actlab.lookup("swiglu")))["applies"]
    assert "mixes the features" in applies and dict(property_rows(actlab.lookup("relu")))["applies"] == "element-wise"
    assert actlab.lookup("swiglu").properties()["mixes_features"] is True

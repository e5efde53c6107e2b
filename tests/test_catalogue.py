"""The activation catalogue checked against independent references.

* every entry's torch function against its NumPy reference (random and edge inputs, float64
  and float32), the stochastic ones with the very same noise;
* FReLU against a NumPy reference with its batch norm folded in;
* gradients by ``torch.autograd.gradcheck``;
* declared properties against the measured ones (``actlab.catalogue.properties.measure``);
* formulas render with matplotlib mathtext;
* modules against functions, the 48 à-la-carte names, aliases, library variants, and
  torch.nn's own modules.
"""

from __future__ import annotations

import io
import math
import re
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from matplotlib import mathtext
from torch import nn

import actlab
from actlab.catalogue import FReLU, frelu
from actlab.catalogue.frelu import frelu_numpy
from actlab.catalogue.properties import measure

ENTRIES = actlab.entries()
IDS = [e.name for e in ENTRIES]
BY_NAME = {e.name: e for e in ENTRIES}

EDGES = [0.0, 1e-7, -1e-7, 1.0, -1.0, 30.0, -30.0, math.inf, -math.inf, math.nan]
DIM_WIDTH = 6  # even, for GLU
# PyTorch's own float32 kernels that get +-inf wrong (the float64 comparison keeps +-inf):
# F.gelu(inf) is NaN in float32 (torch 2.x CPU), inf in float64.
FLOAT32_INF_QUIRKS = {"gelu"}


def entry_params(name):
    return [pytest.param(e, id=e.name) for e in ENTRIES if name(e)]


# --------------------------------------------------------------------------- inputs


def into_domain(z: np.ndarray, domain: tuple[float, float]) -> np.ndarray:
    """Map standard-normal-ish values ``z`` strictly inside ``domain`` (identity for the real line)."""
    lo, hi = domain
    if math.isfinite(lo) and math.isfinite(hi):
        return lo + (hi - lo) * (0.001 + 0.998 / (1 + np.exp(-z)))
    if math.isfinite(lo):
        return lo + np.abs(z) + 1e-3
    if math.isfinite(hi):
        return hi - np.abs(z) - 1e-3
    return z


def in_domain(values, domain) -> list[float]:
    """The values inside the closed domain, plus NaN (which must propagate everywhere)."""
    lo, hi = domain
    return [v for v in values if math.isnan(v) or lo <= v <= hi]


def reference_input(entry, seed: int = 0) -> np.ndarray:
    """Seeded random inputs (normal * 3, mapped into the domain) plus edge inputs, float64,
    shaped for the entry: 1-D element-wise, (N, 6) along dim=1, NCHW for spatial entries."""
    rng = np.random.default_rng(seed)
    if entry.axis == "spatial":
        x = rng.normal(size=(2, 3, 6, 6)) * 3
        # finite edges only: a convolution may turn inf into NaN by a different path than NumPy
        finite = [v for v in EDGES if math.isfinite(v)]
        x.reshape(-1)[: len(finite)] = finite
        return x
    z = rng.normal(size=(200 if entry.elementwise else (40, DIM_WIDTH))) * 3
    x = into_domain(z, entry.domain)
    edges = in_domain(EDGES, entry.domain)
    if entry.elementwise:
        return np.concatenate([x, edges])
    rows = [x]
    for v in edges:  # the edge value in one slot, and in every slot
        row = into_domain(rng.normal(size=(1, DIM_WIDTH)) * 3, entry.domain)
        row[0, 0] = v
        rows += [row, np.full((1, DIM_WIDTH), v)]
    rows.append(np.array([[30.0, -30.0, 0.0, 1.0, -1.0, 1e-7]]))
    return np.concatenate(rows)


def torch_noise_like(x: torch.Tensor, seed: int) -> torch.Tensor:
    """The Gumbel(0, 1) noise ``F.gumbel_softmax`` draws for ``x`` after ``torch.manual_seed(seed)``."""
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        return -torch.empty_like(x).exponential_().log()


def run_torch(entry, x: torch.Tensor, seed: int = 1234):
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        return entry.fn(x, **entry.params)


def random_frelu_weights(channels: int, k: int = 3, seed: int = 0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(channels, 1, k, k)) * 0.5, rng.normal(size=channels)


# --------------------------------------------------------------------------- torch vs NumPy


def test_every_entry_has_a_numpy_reference():
    missing = [e.name for e in ENTRIES if e.numpy is None]
    assert missing == []


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32], ids=["float64", "float32"])
@pytest.mark.parametrize("entry", ENTRIES, ids=IDS)
def test_torch_matches_numpy_reference(entry, dtype):
    assert entry.numpy is not None, f"{entry.name} has no NumPy reference"
    x64 = reference_input(entry)
    if dtype == torch.float32 and entry.name in FLOAT32_INF_QUIRKS:
        x64 = x64[np.isfinite(x64) | np.isnan(x64)]
    x = torch.tensor(x64, dtype=dtype)
    xr = x.double().numpy()  # the reference sees exactly the values torch sees
    seed = 1234
    if entry.axis == "spatial":
        w, b = random_frelu_weights(x.shape[1])
        got = frelu(x, torch.tensor(w, dtype=dtype), torch.tensor(b, dtype=dtype), **entry.params)
        w32, b32 = torch.tensor(w, dtype=dtype).double().numpy(), torch.tensor(b, dtype=dtype).double().numpy()
        want = entry.numpy(xr, w32, b32, **entry.params)
    elif entry.stochastic:
        noise = torch_noise_like(x, seed)
        got = run_torch(entry, x, seed)
        want = entry.numpy(xr, gumbels=noise.double().numpy(), **entry.params)
        # and the noise does matter: another seed gives another output
        assert not torch.equal(run_torch(entry, x[:40], seed + 1), got[:40])
    else:
        got = run_torch(entry, x, seed)
        want = entry.numpy(xr, **entry.params)
    got = got.detach()
    assert got.dtype == dtype and got.shape == tuple(np.shape(want))
    if dtype == torch.float64:
        rtol, atol = 1e-10, 1e-12
    else:
        rtol, atol = 2e-5, 2e-6
    np.testing.assert_allclose(
        got.double().numpy(), want, rtol=rtol, atol=atol, equal_nan=True, err_msg=f"{entry.name} ({dtype})"
    )
    # NaN in, NaN out (element-wise: at the NaN's position; along dim: in the NaN's row)
    nan_in = np.isnan(xr)
    if entry.elementwise:
        assert np.isnan(got.double().numpy()[nan_in]).all()
    elif entry.axis == "dim":
        assert np.isnan(got.double().numpy()[nan_in.any(axis=1)]).any(axis=1).all()


def test_reference_comparison_can_fail():
    """The comparison above is not vacuous: a wrong function is caught on the same inputs."""
    entry = BY_NAME["leaky_relu"]
    x = torch.tensor(reference_input(entry))
    wrong = F.leaky_relu(x, 0.02).numpy()
    assert not np.allclose(wrong, entry.numpy(x.numpy()), rtol=1e-10, atol=1e-12, equal_nan=True)


# --------------------------------------------------------------------------- stochastic entries


def test_gumbel_softmax_is_random_and_a_distribution():
    x = torch.randn(8, 5, generator=torch.Generator().manual_seed(0))
    f = actlab.functional("gumbel_softmax")
    with torch.random.fork_rng():
        torch.manual_seed(0)
        a, b = f(x), f(x)
    assert not torch.allclose(a, b)
    torch.testing.assert_close(a.sum(1), torch.ones(8))
    assert (a >= 0).all() and (a <= 1).all()


def test_rrelu_random_in_training_fixed_mean_slope_in_eval():
    lower, upper = 1 / 8, 1 / 3
    x = -torch.rand(2000, generator=torch.Generator().manual_seed(0)) - 0.1  # all negative
    m = actlab.get("rrelu")
    torch.manual_seed(0)
    slopes = m.train()(x) / x
    assert (slopes >= lower - 1e-6).all() and (slopes <= upper + 1e-6).all()
    assert slopes.std() > 0.03  # random per element: U(1/8, 1/3) has std 0.06
    with torch.random.fork_rng():
        torch.manual_seed(5)
        y1 = m(x)
        torch.manual_seed(5)
        y2 = m(x)
    torch.testing.assert_close(y1, y2)  # same seed, same noise
    pos = torch.linspace(0.0, 3.0, 50)
    torch.testing.assert_close(m(pos), pos)  # identity above zero, also in training
    m.eval()
    torch.testing.assert_close(m(x), x * (lower + upper) / 2)
    torch.testing.assert_close(m(x), m(x))
    torch.testing.assert_close(actlab.functional("rrelu")(x), x * (lower + upper) / 2)


# --------------------------------------------------------------------------- FReLU


def fold_bn_numpy(weight, gamma, beta, mean, var, eps):
    scale = gamma / np.sqrt(var + eps)
    return weight * scale[:, None, None, None], beta - mean * scale


@pytest.mark.parametrize("kernel_size", [3, 5], ids=["k3", "k5"])
def test_frelu_module_matches_numpy_with_folded_batch_norm(kernel_size):
    torch.manual_seed(0)
    m = actlab.get(f"frelu(kernel_size={kernel_size})").double()
    assert isinstance(m, FReLU) and m.channels is None
    x = torch.randn(2, 4, 7, 6, dtype=torch.float64) * 2
    m(x)  # first call infers the channels
    assert m.channels == 4 and m.weight.shape == (4, 1, kernel_size, kernel_size)
    rng = np.random.default_rng(1)
    with torch.no_grad():
        m.bn_weight.copy_(torch.tensor(rng.uniform(0.5, 2.0, 4)))
        m.bn_bias.copy_(torch.tensor(rng.normal(size=4)))
        m.running_mean.copy_(torch.tensor(rng.normal(size=4)))
        m.running_var.copy_(torch.tensor(rng.uniform(0.2, 3.0, 4)))
    m.eval()
    got = m(x).detach().numpy()
    w, b = fold_bn_numpy(
        m.weight.detach().numpy(),
        m.bn_weight.detach().numpy(),
        m.bn_bias.detach().numpy(),
        m.running_mean.numpy(),
        m.running_var.numpy(),
        m.eps,
    )
    want = frelu_numpy(x.numpy(), w, b, kernel_size=kernel_size)
    np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12)
    # the reference is not trivially max(x, 0) or x: the funnel condition wins somewhere
    assert (want > x.numpy() + 1e-6).any() and (want < 0).any()
    # folded() gives the same (weight, bias) and the functional form agrees
    fw, fb = m.folded()
    np.testing.assert_allclose(fw.detach().numpy(), w, rtol=1e-12)
    np.testing.assert_allclose(fb.detach().numpy(), b, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(frelu(x, fw, fb, kernel_size=kernel_size).detach().numpy(), want, rtol=1e-10, atol=1e-12)


def test_frelu_training_mode_uses_batch_statistics_and_updates_running_stats():
    torch.manual_seed(0)
    m = FReLU().double()
    x = torch.randn(4, 3, 5, 5, dtype=torch.float64) * 3 + 1
    y = m(x)
    t = F.conv2d(x, m.weight, None, padding=1, groups=3)
    mu, var = t.mean((0, 2, 3)), t.var((0, 2, 3), unbiased=False)
    t_hat = (t - mu[None, :, None, None]) / torch.sqrt(var[None, :, None, None] + m.eps)
    torch.testing.assert_close(y, torch.maximum(x, t_hat))
    assert not torch.allclose(m.running_mean, torch.zeros(3, dtype=torch.float64)) and int(m.num_batches_tracked) == 1


def test_frelu_works_in_a_cnn_by_plain_name():
    torch.manual_seed(0)
    net = nn.Sequential(
        nn.Conv2d(1, 8, 3, padding=1),
        actlab.get("frelu"),
        nn.Conv2d(8, 5, 3, padding=1),
        actlab.get("frelu"),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Linear(5, 3),
    )
    x = torch.randn(6, 1, 8, 8)
    out = net(x)
    assert out.shape == (6, 3)
    assert net[1].channels == 8 and net[3].channels == 5
    assert net[1].weight is not net[3].weight
    out.sum().backward()
    assert net[1].weight.grad is not None and net[1].weight.grad.abs().sum() > 0
    assert net[1].bn_weight.grad is not None


def test_frelu_rejects_non_image_input():
    with pytest.raises(actlab.ActlabError, match="N, C, H, W"):
        actlab.get("frelu")(torch.zeros(3, 4))


# --------------------------------------------------------------------------- gradients

# Points closer than KINK_GAP to a kink (or jump) are dropped before gradcheck; elsewhere every
# differentiable entry is C^1 (or piecewise smooth with the kinks listed here). Inputs are
# seeded random points inside the entry's probe interval; kinks of sparsemax and FReLU depend
# on the data (x_i = tau, x = T(x)), and a random point lies within gradcheck's eps = 1e-6 of
# one with negligible probability, so those use random points only.
KINK_GAP = 1e-3
KINKS = {
    "relu": [0],
    "leaky_relu": [0],
    "leaky_relu_keras": [0],
    "prelu": [0],
    "rrelu": [0],
    "elu": [0],
    "selu": [0],
    "celu": [0],
    "hardshrink": [-0.5, 0.5],
    "hardtanh": [-1, 1],
    "relu6": [0, 6],
    "softshrink": [-0.5, 0.5],
    "abs": [0],
    "frac": list(range(-7, 8)),
    "hard_sigmoid": [-2.5, 2.5],
    "hard_sigmoid_torch": [-3, 3],
    "threshold": [1],
    "hard_swish": [-3, 3],
    "hard_mish": [-2, 0],
    "sparse_plus": [-1, 1],
    "sparse_sigmoid": [-1, 1],
    "isrlu": [0],
    "relu_squared": [0],
    "star_relu": [0],
    "penalized_tanh": [0],
    "elish": [0],
}


def gradcheck_input(entry, seed: int = 0) -> torch.Tensor:
    from actlab.catalogue.properties import interval

    g = torch.Generator().manual_seed(seed)
    a, b = interval(entry, *entry.probe, margin=1e-2)
    if entry.axis == "spatial":
        shape = (2, 2, 4, 4)
    elif entry.axis == "dim":
        shape = (5, DIM_WIDTH)
    else:
        shape = (64,)
    x = a + (b - a) * torch.rand(shape, generator=g, dtype=torch.float64)
    if entry.elementwise:
        kinks = torch.tensor(KINKS.get(entry.name, []), dtype=torch.float64)
        if len(kinks):
            x = x[(x[:, None] - kinks[None, :]).abs().min(1).values > KINK_GAP]
    return x.requires_grad_(True)


@pytest.mark.parametrize("entry", entry_params(lambda e: e.differentiable))
def test_gradcheck(entry):
    x = gradcheck_input(entry)
    assert x.numel() >= 16
    if entry.axis == "spatial":
        w = torch.randn(2, 1, 3, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(1), requires_grad=True)
        b = torch.randn(2, dtype=torch.float64, generator=torch.Generator().manual_seed(2), requires_grad=True)
        assert torch.autograd.gradcheck(lambda x, w, b: frelu(x, w, b), (x, w, b), eps=1e-6, atol=1e-5)
        return

    def f(x):
        return run_torch(entry, x, seed=7)  # the same noise on every call (gumbel_softmax)

    assert torch.autograd.gradcheck(f, (x,), eps=1e-6, atol=1e-5, rtol=1e-3)


@pytest.mark.parametrize("entry", entry_params(lambda e: not e.differentiable))
def test_not_differentiable_entries_have_zero_gradient(entry):
    x = torch.linspace(-5.3, 5.7, 101, dtype=torch.float64, requires_grad=True)
    y = run_torch(entry, x)
    (g,) = torch.autograd.grad(y.sum(), x, allow_unused=True)
    assert g is None or (g == 0).all()


# --------------------------------------------------------------------------- properties


@pytest.fixture(scope="module")
def measured():
    return {e.name: measure(e) for e in ENTRIES}


def close_to_bound(measured_value: float, declared: float) -> bool:
    return abs(measured_value - declared) <= 1e-3 * (1 + abs(declared))


@pytest.mark.parametrize("entry", ENTRIES, ids=IDS)
def test_declared_properties_match_measured(entry, measured):
    m = measured[entry.name]
    lo, hi = entry.range
    assert m["nan_in_domain"] == 0
    assert m["bounded_below"] == entry.bounded_below, m
    assert m["bounded_above"] == entry.bounded_above, m
    # measured values stay inside the declared range, and reach (or approach) its finite ends
    tol = 1e-6  # declared constants such as mish's minimum -0.308843 are rounded to 6 digits
    assert m["range"][0] >= lo - tol * (1 + abs(lo)) and m["range"][1] <= hi + tol * (1 + abs(hi)), m["range"]
    if math.isfinite(lo):
        assert close_to_bound(m["range"][0], lo), (m["range"], entry.range)
    if math.isfinite(hi):
        assert close_to_bound(m["range"][1], hi), (m["range"], entry.range)
    for key in ("monotonic", "smooth", "zero_centred"):
        declared = getattr(entry, key)
        if declared is not None:
            assert m[key] == declared, f"{entry.name}: declared {key}={declared}, measured {m[key]}"
    assert m["differentiable"] == entry.differentiable
    assert m["elementwise"] == entry.elementwise


def test_only_documented_entries_leave_properties_undeclared():
    undeclared = {e.name for e in ENTRIES if None in (e.monotonic, e.smooth, e.zero_centred)}
    assert undeclared <= {"frelu", "gumbel_softmax"}  # depend on learned weights / random noise


def test_measure_detects_wrong_declarations():
    """The property check can fail: a relu declared smooth, bounded and non-monotonic is caught."""
    import dataclasses

    fake = dataclasses.replace(BY_NAME["relu"], smooth=True, monotonic=False, range=(0.0, 1.0))
    m = measure(fake)
    assert m["smooth"] is False and m["monotonic"] is True and m["bounded_above"] is False
    fake = dataclasses.replace(BY_NAME["silu"], name="silu_fake")
    assert measure(fake)["range"][0] == pytest.approx(-0.278465, abs=1e-5)


# --------------------------------------------------------------------------- formulas


@pytest.mark.parametrize("entry", ENTRIES, ids=IDS)
def test_formula_renders_with_mathtext(entry):
    assert entry.formula.strip() and entry.note.strip() and entry.reference.strip()
    buf = io.BytesIO()
    mathtext.math_to_image(f"${entry.formula}$", buf, dpi=72, format="png")
    assert buf.getvalue()[:8] == b"\x89PNG\r\n\x1a\n"


def test_mathtext_rejects_a_broken_formula():
    with pytest.raises(ValueError):
        mathtext.math_to_image(r"$\frac{1}{$", io.BytesIO(), format="png")


# --------------------------------------------------------------------------- module vs function


@pytest.mark.parametrize("entry", entry_params(lambda e: not e.stochastic))
def test_module_equals_functional(entry):
    torch.manual_seed(0)
    if entry.axis == "spatial":
        m = actlab.get(entry.name).double().eval()
        x = torch.randn(2, 3, 5, 5, dtype=torch.float64)
        y = m(x)
        torch.testing.assert_close(y, actlab.functional(entry.name)(x, *m.folded()))
        return
    x = torch.tensor(reference_input(entry, seed=3))
    x = x[torch.isfinite(x).all(-1) if x.dim() == 2 else torch.isfinite(x)]
    m = actlab.get(entry.name).double()
    assert isinstance(m, nn.Module)
    want = actlab.functional(entry.name)(x)
    torch.testing.assert_close(m.eval()(x).double(), want)
    if entry.name != "rrelu":  # rrelu is random in training mode (tested above)
        torch.testing.assert_close(m.train()(x).double(), want)


def test_modules_are_fresh():
    a, b = actlab.get("prelu"), actlab.get("prelu")
    assert a is not b and a.weight is not b.weight


# --------------------------------------------------------------------------- the table


SEED_NAMES = [
    "step",
    "sigmoid",
    "hard_sigmoid",
    "tanh",
    "softsign",
    "softplus",
    "relu",
    "linear",
    "identity",
    "softmax",
    "leaky_relu",
    "prelu",
    "elu",
    "selu",
    "swish",
    "silu",
    "mish",
    "frelu",
]
LIBRARY_NAMES = [
    "relu6",
    "rrelu",
    "threshold",
    "celu",
    "gelu",
    "gelu_tanh",
    "quick_gelu",
    "hard_swish",
    "hard_mish",
    "hardtanh",
    "log_sigmoid",
    "hardshrink",
    "softshrink",
    "tanhshrink",
    "squareplus",
    "sparse_plus",
    "sparse_sigmoid",
    "exponential",
    "glu",
    "softmin",
    "log_softmax",
    "sparsemax",
]


def test_at_least_70_distinct_entries():
    assert len(ENTRIES) >= 70
    assert len(set(IDS)) == len(IDS)
    assert len({id(e.fn) for e in ENTRIES}) >= 60  # not one function under many names


@pytest.mark.parametrize("name", SEED_NAMES + LIBRARY_NAMES)
def test_named_functions_resolve(name):
    entry = actlab.lookup(name)
    assert entry in ENTRIES
    assert isinstance(actlab.get(name), nn.Module)


@pytest.mark.parametrize(
    "alias, name",
    [
        ("swish", "silu"),
        ("hardsigmoid", "hard_sigmoid"),
        ("identity", "linear"),
        ("exponential", "exp"),
        ("LeakyReLU", "leaky_relu"),
        ("leaky-relu", "leaky_relu"),
        ("Hardtanh", "hardtanh"),
        ("hard_tanh", "hardtanh"),
        ("GELU", "gelu"),
        ("hard_silu", "hard_swish"),
        ("gelu_new", "gelu_tanh"),
        ("LogSoftmax", "log_softmax"),
        ("funnel", "frelu"),
        ("heaviside", "step"),
        ("squared_relu", "relu_squared"),
    ],
)
def test_aliases_resolve_to_one_entry(alias, name):
    assert actlab.lookup(alias) is actlab.lookup(name)
    assert actlab.lookup(alias).name == name


def test_keras_and_pytorch_variants_differ_as_documented():
    x = torch.linspace(-6, 6, 241, dtype=torch.float64)
    torch.testing.assert_close(actlab.functional("leaky_relu")(x), torch.where(x >= 0, x, 0.01 * x))
    torch.testing.assert_close(actlab.functional("leaky_relu_keras")(x), torch.where(x >= 0, x, 0.2 * x))
    torch.testing.assert_close(actlab.functional("hard_sigmoid")(x), torch.clamp(0.2 * x + 0.5, 0, 1))
    torch.testing.assert_close(actlab.functional("hard_sigmoid_torch")(x), F.relu6(x + 3) / 6)
    hs = actlab.functional("hard_sigmoid")
    assert float(hs(torch.tensor(-2.5))) == 0.0 and float(hs(torch.tensor(2.5))) == 1.0
    assert float(actlab.functional("hard_sigmoid_torch")(torch.tensor(-2.9))) > 0
    assert not torch.allclose(actlab.functional("hard_sigmoid")(x), actlab.functional("hard_sigmoid_torch")(x))


def sipper48_from_brief() -> list[str] | None:
    brief = Path(__file__).resolve().parents[2] / "shared" / "BRIEF.md"
    if not brief.exists():
        return None
    text = brief.read_text()
    sec = text[text.index("Candidate list of 48") :]
    sec = sec[: sec.index("- Networks")]
    groups = re.findall(r"\(([A-Z][^()]*)\)", sec)
    torch_nn = [s.strip() for s in groups[0].split(",")]
    math_fns = [s.strip() for s in groups[1].split(",")]
    literature = ["generalized_swish", "sigmoid_derivative", "cloglogm", "mish"]
    assert "generalized swish" in sec and "sigmoid derivative" in sec and "CLogLogM" in sec and "Mish" in sec
    return torch_nn + math_fns + literature


SIPPER48_LITERAL = [
    "ELU",
    "Hardshrink",
    "Hardtanh",
    "LeakyReLU",
    "LogSigmoid",
    "PReLU",
    "ReLU",
    "ReLU6",
    "RReLU",
    "SELU",
    "CELU",
    "GELU",
    "Sigmoid",
    "Softplus",
    "Softshrink",
    "Softsign",
    "Tanh",
    "Tanhshrink",
    "Softmin",
    "Softmax",
    "LogSoftmax",
    "Abs",
    "Acos",
    "Angle",
    "Asin",
    "Atan",
    "Ceil",
    "Cos",
    "Cosh",
    "Digamma",
    "Erf",
    "Erfc",
    "Exp",
    "Floor",
    "Frac",
    "Log",
    "Log10",
    "Neg",
    "Round",
    "Sin",
    "Sinh",
    "Tan",
    "Trunc",
    "GumbelSoftmax",
    "generalized_swish",
    "sigmoid_derivative",
    "cloglogm",
    "mish",
]


def test_sipper48_is_the_papers_list_in_order():
    names = sipper48_from_brief() or SIPPER48_LITERAL
    assert len(names) == 48
    assert names == SIPPER48_LITERAL
    assert len(actlab.SIPPER48) == 48 and len(set(actlab.SIPPER48)) == 48
    assert [actlab.lookup(n).name for n in names] == list(actlab.SIPPER48)
    assert all(n == actlab.lookup(n).name for n in actlab.SIPPER48)  # canonical names
    kinds = [actlab.lookup(n).kind for n in actlab.SIPPER48]
    assert kinds[21:44] == ["math"] * 23 and kinds[44:47] == ["literature"] * 3


TORCH_MODULES = {  # catalogue name -> the torch module it must equal
    "elu": lambda: nn.ELU(),
    "hardshrink": lambda: nn.Hardshrink(),
    "hardtanh": lambda: nn.Hardtanh(),
    "leaky_relu": lambda: nn.LeakyReLU(),
    "log_sigmoid": lambda: nn.LogSigmoid(),
    "prelu": lambda: nn.PReLU(),
    "relu": lambda: nn.ReLU(),
    "relu6": lambda: nn.ReLU6(),
    "rrelu": lambda: nn.RReLU().eval(),
    "selu": lambda: nn.SELU(),
    "celu": lambda: nn.CELU(),
    "gelu": lambda: nn.GELU(),
    "sigmoid": lambda: nn.Sigmoid(),
    "softplus": lambda: nn.Softplus(),
    "softshrink": lambda: nn.Softshrink(),
    "softsign": lambda: nn.Softsign(),
    "tanh": lambda: nn.Tanh(),
    "tanhshrink": lambda: nn.Tanhshrink(),
    "softmin": lambda: nn.Softmin(dim=1),
    "softmax": lambda: nn.Softmax(dim=1),
    "log_softmax": lambda: nn.LogSoftmax(dim=1),
    "mish": lambda: nn.Mish(),
    "silu": lambda: nn.SiLU(),
    "hard_swish": lambda: nn.Hardswish(),
    "hard_sigmoid_torch": lambda: nn.Hardsigmoid(),
    "threshold": lambda: nn.Threshold(1.0, 0.0),
    "glu": lambda: nn.GLU(dim=1),
    "gelu_tanh": lambda: nn.GELU(approximate="tanh"),
    "linear": lambda: nn.Identity(),
}
TORCH_MATH = [
    "abs",
    "acos",
    "angle",
    "asin",
    "atan",
    "ceil",
    "cos",
    "cosh",
    "digamma",
    "erf",
    "erfc",
    "exp",
    "floor",
    "frac",
    "log",
    "log10",
    "neg",
    "round",
    "sin",
    "sinh",
    "tan",
    "trunc",
]


def test_every_sipper48_torch_function_is_compared_with_torch():
    covered = set(TORCH_MODULES) | set(TORCH_MATH) | {"gumbel_softmax"}
    assert set(actlab.SIPPER48[:44]) <= covered


@pytest.mark.parametrize("name", list(TORCH_MODULES))
def test_catalogue_equals_torch_nn_module(name):
    entry = actlab.lookup(name)
    x = torch.randn(32, DIM_WIDTH, generator=torch.Generator().manual_seed(0), dtype=torch.float64) * 3
    want = TORCH_MODULES[name]().double()(x)
    torch.testing.assert_close(actlab.functional(name)(x), want, rtol=0, atol=0)
    torch.testing.assert_close(entry.fn(x, **entry.params), want, rtol=0, atol=0)
    torch.testing.assert_close(actlab.get(name).double().eval()(x), want, rtol=0, atol=0)


@pytest.mark.parametrize("name", TORCH_MATH)
def test_catalogue_math_equals_torch(name):
    entry = actlab.lookup(name)
    x = torch.tensor(into_domain(np.random.default_rng(0).normal(size=100) * 3, entry.domain))
    torch.testing.assert_close(actlab.functional(name)(x), getattr(torch, name)(x), rtol=0, atol=0)


def test_gumbel_softmax_equals_torch_with_the_same_seed():
    x = torch.randn(16, 5, generator=torch.Generator().manual_seed(0))
    f = actlab.functional("gumbel_softmax")
    with torch.random.fork_rng():
        torch.manual_seed(3)
        want = F.gumbel_softmax(x, tau=1.0, dim=1)
        torch.manual_seed(3)
        got = f(x)
    torch.testing.assert_close(got, want)


# --------------------------------------------------------------------------- learnable


def test_prelu_slope_is_learned():
    m = actlab.get("prelu")
    (p,) = list(m.parameters())
    assert p.requires_grad and float(p.detach()) == pytest.approx(0.25)
    x = torch.tensor([-2.0, -1.0, 0.5, 3.0])
    m(x).sum().backward()
    assert p.grad is not None and float(p.grad) == pytest.approx(-3.0)  # d/da sum(a * x[x < 0])
    torch.optim.SGD(m.parameters(), lr=0.1).step()
    assert float(p.detach()) == pytest.approx(0.55)
    torch.testing.assert_close(m(x).detach(), torch.tensor([-1.1, -0.55, 0.5, 3.0]))


def test_prelu_per_channel():
    m = actlab.get("prelu(num_parameters=3, init=0.1)")
    assert m.weight.shape == (3,)
    x = -torch.ones(2, 3, 4, 4)
    torch.testing.assert_close(m(x), -0.1 * torch.ones(2, 3, 4, 4))

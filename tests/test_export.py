"""Export to other stacks, each with the real library: a Keras model with an evolved function
trains, saves as .keras and loads back; a tiny BERT built from a config uses a registered
function; a timm ResNet takes one as act_layer; a model with an evolved and a compiled
``actlab.fast`` function runs in onnxruntime; the standalone PyTorch code runs in a process
without actlab. Every Keras and PyTorch form is checked against actlab's own function."""

from __future__ import annotations

import ast
import importlib.util
import json
import math
import os
import subprocess
import sys
import textwrap
from pathlib import Path

os.environ["KERAS_BACKEND"] = "torch"  # read by keras when it is first imported
os.environ["HF_HUB_OFFLINE"] = "1"  # models are built from configs; nothing is downloaded

import numpy as np
import pytest
import torch
from torch import nn

import actlab
from actlab import ActlabError
from actlab import interop as X
from actlab.catalogue import _table as table
from actlab.catalogue import expr as E
from actlab.catalogue.ops import TORCH_OPS, TORCH_SPELLING
from actlab.cli import main
from actlab.interop import _forms
from tests.conftest import require_real

pytestmark = [  # raised inside Keras (numpy 2's copy keyword) and torch.export, not by actlab
    pytest.mark.filterwarnings("ignore:__array__ implementation doesn't accept a copy keyword:DeprecationWarning"),
    pytest.mark.filterwarnings("ignore:`isinstance.treespec, LeafSpec.` is deprecated:FutureWarning"),
]

EVOLVED = "max(x, x * tanh(x)) - 0.1 * sin(x) / (x - 0.5)"  # protected division at 0.5
COMPOSITE = "expr:x * sigmoid(1.5 * x) + 0.1 * tanh(x)"

# every catalogue entry with Keras and PyTorch forms, some with arguments, and every primitive of
# the expression language (binary ones against a tensor, a constant on either side)
PORTABLE = [e.name for e in actlab.entries() if e.portable is not None]
SPECS = [
    *PORTABLE,
    "leaky_relu(negative_slope=0.1)",
    "elu(alpha=0.5)",
    "celu(alpha=2.0)",
    "softplus(beta=2.0, threshold=5.0)",
    "hardtanh(min_val=-2.0, max_val=0.5)",
    "hardshrink(lambd=1.0)",
    "softshrink(lambd=0.2)",
    "rrelu(lower=0.1, upper=0.3)",
    "step(threshold=0.5)",
    "threshold(threshold=0.5, value=-1.0)",
    "snake(alpha=2.0)",
    "squareplus(b=1.0)",
    "isru(alpha=0.5)",
    "star_relu(scale=1.5, bias=0.1)",
    *(f"expr:{n}(x)" for n, p in E.PRIMITIVES.items() if p.arity == 1),
    *(
        f"expr:{t}"
        for b in ("add", "sub", "mul", "div", "max", "min")
        for t in (f"{b}(x, 0.7 * x + 0.3)", f"{b}(x, 0.5)", f"{b}(-1.5, x)")
    ),
    "expr:x / 0",
    "expr:1 / x",
    "expr:x ** 3",
    "expr:-x ** 2",
    f"expr:{EVOLVED}",
]


def need(module: str):
    try:
        return importlib.import_module(module)
    except ImportError as e:
        require_real(False, f"{module} cannot be imported ({e}); install it with {X.INSTALL}")


def grid(spec: str) -> torch.Tensor:
    lo, hi = (-6.0, 6.0) if spec.startswith(E.PREFIX) else actlab.lookup(spec).probe
    return torch.linspace(lo, hi, 97)  # steps of 1/8 on [-6, 6]: every kink and threshold of the table


def reference(spec: str, x: torch.Tensor) -> np.ndarray:
    """actlab's own values (evaluation mode)."""
    if spec.startswith(E.PREFIX):
        return E.compile_torch(E.parse(spec[len(E.PREFIX) :]))(x, False).numpy()
    return actlab.functional(spec)(x).numpy()


def close(got, want, what: str) -> None:
    got = got.detach().numpy() if isinstance(got, torch.Tensor) else got  # Keras' torch backend gives tensors
    np.testing.assert_allclose(
        np.asarray(got, dtype=np.float64), want, rtol=1e-5, atol=1e-5, equal_nan=True, err_msg=what
    )


def load_module(path, name: str):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def write_best(path, functions: dict[str, str], mode: str) -> str:
    path.write_text(json.dumps({"format": "actlab-evolve-best", "version": 1, "mode": mode, "functions": functions}))
    return str(path)


@pytest.fixture(scope="module")
def iris():
    from actlab.data import load

    return load("iris", seed=0)


# ------------------------------------------------------------------------------------ forms
def test_every_primitive_has_forms():
    assert set(_forms.UNARY) == {n for n, p in E.PRIMITIVES.items() if p.arity == 1}
    assert set(_forms.BINARY) == {n for n, p in E.PRIMITIVES.items() if p.arity == 2}


def test_every_keras_name_has_its_torch_spelling():
    """The names PyTorch spells differently are keras.ops names, and each spelling is a torch function."""
    keras = need("keras")
    for op, spelling in TORCH_SPELLING.items():
        assert callable(getattr(keras.ops, op, None)), op
        module, name = spelling.split(".")
        assert getattr(TORCH_OPS, op) is getattr({"torch": torch, "F": nn.functional}[module], name), op
    with pytest.raises(AttributeError, match="no PyTorch spelling"):
        TORCH_OPS.sparse_plus  # noqa: B018 (keras.ops has it, torch does not)


def wave(x, alpha=1.0, ops=TORCH_OPS):
    """A function the catalogue does not have, written as a row of its table writes one."""
    return x * ops.sigmoid(alpha * x) + 0.1 * ops.sin(x)


def test_a_new_table_row_exports_to_code_keras_and_onnx(registry, tmp_path):
    """One row added with the table's own helper, and nothing else: the function exports to
    PyTorch code, Keras (function and module) and ONNX, each giving actlab's values."""
    need("keras")
    need("onnxscript")
    ort = need("onnxruntime")
    table._add(
        "test_wave",
        wave,
        lambda x, alpha=1.0: x / (1 + np.exp(-alpha * x)) + 0.1 * np.sin(x),
        r"x \, \sigma(\alpha x) + 0.1 \sin(x)",
        "A sigmoid-weighted identity with a ripple.",
        "tests/test_export.py",
        "literature",
        (-math.inf, math.inf),
        None,
        True,
        True,
        params={"alpha": 1.0},
        portable=wave,
    )
    spec = "test_wave(alpha=1.5)"
    x = torch.linspace(-6.0, 6.0, 97)
    want = reference(spec, x)
    close(want, actlab.lookup("test_wave").numpy(x.double().numpy(), alpha=1.5), "the row's NumPy reference")
    f = X.functions(spec)[0]
    for target in ("torch", "keras"):
        (tmp_path / f"wave_{target}.py").write_text(X.to_code(spec, target))
        module = load_module(tmp_path / f"wave_{target}.py", f"wave_{target}")
        close(getattr(module, f.name)(x), want, f"{target} code of the new row")
    close(X.to_keras(spec)(x), want, "to_keras of the new row")
    X.to_onnx(spec, tmp_path / "wave.onnx")
    got = ort.InferenceSession(str(tmp_path / "wave.onnx")).run(None, {"x": x[None].numpy()})[0]
    close(got[0], want, "ONNX of the new row")


def test_a_registered_function_exports_with_its_portable_form(registry, tmp_path):
    """actlab.register takes portable= as the table does; without it, export says what is missing."""
    actlab.register("test_xtanh", lambda x: x * torch.tanh(x), portable=lambda x, ops: x * ops.tanh(x))
    x = torch.linspace(-6.0, 6.0, 97)
    want = (x * torch.tanh(x)).numpy()
    (tmp_path / "xtanh.py").write_text(X.to_code("test_xtanh"))
    close(load_module(tmp_path / "xtanh.py", "xtanh").test_xtanh(x), want, "code of a registered function")
    actlab.register("test_plain", lambda x: x * torch.tanh(x))
    with pytest.raises(ActlabError, match="portable="):
        X.to_code("test_plain")


@pytest.mark.parametrize("spec", SPECS)
def test_keras_forms_are_actlabs_function(spec, tmp_path):
    """to_keras and the module to_code writes for Keras give actlab's values (Keras on torch), on
    a backend tensor and on a NumPy array (as keras.activations take both)."""
    need("keras")
    x = grid(spec)
    want = reference(spec, x)
    f = X.functions(spec)[0]
    (tmp_path / "m.py").write_text(X.to_code(spec, "keras"))
    module = load_module(tmp_path / "m.py", f"keras_{f.name}")
    for given in (x, x.numpy()):
        kind = type(given).__name__
        close(X.to_keras(spec)(given), want, f"to_keras({spec!r}) on a {kind}")
        close(getattr(module, f.name)(given), want, f"keras module of {spec!r} on a {kind}")


def test_standalone_code_runs_without_actlab(tmp_path):
    """Each spec's code in its own file, imported by a process in which actlab cannot be imported:
    its function and its module give actlab's values in float32 and float64."""
    names = {}
    for i, spec in enumerate(SPECS):
        code = X.to_code(spec)
        assert "actlab" not in "\n".join(line for line in code.splitlines() if "import" in line)
        (tmp_path / f"m{i}.py").write_text(code)
        f = X.functions(spec)[0]
        names[f"m{i}"] = (f.name, f.class_name)
    run = textwrap.dedent("""
        import importlib, json, sys
        sys.modules["actlab"] = None  # any 'import actlab' fails
        sys.path.insert(0, sys.argv[1])
        import torch
        names, xs, out = json.loads(open(sys.argv[2]).read()), torch.load(sys.argv[3]), {}
        for mod, (fn, cls) in names.items():
            m = importlib.import_module(mod)
            for dtype in (torch.float32, torch.float64):
                x = xs[mod].to(dtype)
                out[f"{mod} {dtype}"] = getattr(m, fn)(x)
                out[f"{mod} {dtype} module"] = getattr(m, cls)(inplace=True)(x)
        torch.save(out, sys.argv[4])
    """)
    (tmp_path / "run.py").write_text(run)
    (tmp_path / "names.json").write_text(json.dumps(names))
    torch.save({f"m{i}": grid(spec).double() for i, spec in enumerate(SPECS)}, tmp_path / "x.pt")
    r = subprocess.run(
        [
            sys.executable,
            "-I",
            str(tmp_path / "run.py"),
            str(tmp_path),
            str(tmp_path / "names.json"),
            str(tmp_path / "x.pt"),
            str(tmp_path / "out.pt"),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert r.returncode == 0, r.stderr[-3000:]
    out = torch.load(tmp_path / "out.pt")
    for i, spec in enumerate(SPECS):
        for dtype in (torch.float32, torch.float64):
            x = grid(spec).to(dtype)
            want = reference(spec, x)
            close(out[f"m{i} {dtype}"], want, f"code of {spec!r} ({dtype})")
            close(out[f"m{i} {dtype} module"], want, f"module of {spec!r} ({dtype})")


# ------------------------------------------------------------------------------ the stacks
def test_keras_model_with_an_evolved_function_trains_saves_and_loads(tmp_path, iris):
    keras = need("keras")
    best = write_best(tmp_path / "best.json", {"all": EVOLVED}, "single")
    act = actlab.to_keras(best)
    assert X.to_keras(f"expr:{EVOLVED}") is act  # the same function, the same name
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(16, activation=act), keras.layers.Dense(3)])
    model.compile(keras.optimizers.Adam(0.01), keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    x, y, xt = iris.train.x.numpy(), iris.train.y.numpy(), iris.test.x.numpy()
    history = model.fit(x, y, epochs=3, batch_size=16, verbose=0).history["loss"]
    assert history[-1] < history[0], history
    hidden = keras.Model(model.inputs, model.layers[0].output)
    pre = x @ np.asarray(model.layers[0].kernel.numpy()) + np.asarray(model.layers[0].bias.numpy())
    close(hidden.predict(x, verbose=0), reference(f"expr:{EVOLVED}", torch.tensor(pre)), "the trained layer")

    model.save(tmp_path / "model.keras")
    config = json.dumps(model.get_config())
    name = X.functions(best)[0].name
    assert f"actlab>{name}" in config
    want = model.predict(xt, verbose=0)
    np.testing.assert_allclose(
        keras.saving.load_model(tmp_path / "model.keras").predict(xt, verbose=0), want, atol=1e-6
    )
    (tmp_path / "act_keras.py").write_text(actlab.to_code(best, "keras"))
    load_module(tmp_path / "act_keras.py", "act_keras")  # registers its own function under the same name
    assert keras.saving.get_registered_object(f"actlab>{name}") is not act
    np.testing.assert_allclose(
        keras.saving.load_model(tmp_path / "model.keras").predict(xt, verbose=0), want, atol=1e-6
    )

    with pytest.raises(ActlabError, match="already stands for"):
        actlab.to_keras("mish", name=name)
    for spec, words in [
        ("frelu", "images with learned weights"),
        ("softmax", "along a dimension"),
        ("prelu", "learns its parameters"),
        ("digamma", "no Keras or standalone form"),
    ]:
        with pytest.raises(ActlabError, match=words):
            actlab.to_keras(spec)


def test_transformers_config_names_the_function(tmp_path):
    need("transformers")
    from transformers import BertConfig, BertModel

    best = write_best(tmp_path / "best.json", {"input": "x", "hidden": EVOLVED, "output": "relu(x)"}, "triple")
    with pytest.raises(ActlabError, match="slot"):
        actlab.to_transformers(best)
    name = actlab.to_transformers(best, slot="hidden")
    assert actlab.to_transformers(f"expr:{EVOLVED}") == name  # registering again is harmless
    (tmp_path / "act_hf.py").write_text(actlab.to_code("serf", "transformers", name="shipped_serf"))
    load_module(tmp_path / "act_hf.py", "act_hf")

    torch.manual_seed(0)
    for act, spec in [(name, f"expr:{EVOLVED}"), ("actlab:shipped_serf", "serf")]:
        config = BertConfig(
            vocab_size=40,
            hidden_size=16,
            num_hidden_layers=1,
            num_attention_heads=2,
            intermediate_size=32,
            max_position_embeddings=16,
            hidden_act=act,
        )
        model = BertModel(config)
        used = model.encoder.layer[0].intermediate.intermediate_act_fn
        assert getattr(type(used), "actlab_spec", None) == spec
        h = torch.randn(2, 5, 32)
        close(used(h), reference(spec, h), act)
        ids = torch.randint(0, 40, (2, 6))
        model(ids).last_hidden_state.square().mean().backward()
        assert model.encoder.layer[0].intermediate.dense.weight.grad.abs().sum() > 0
        model.eval().save_pretrained(tmp_path / act)  # from_pretrained builds the model on the meta device
        again = BertModel.from_pretrained(tmp_path / act).eval()
        assert again.config.hidden_act == act
        torch.testing.assert_close(again(ids).last_hidden_state, model(ids).last_hidden_state)

    assert name == "actlab:" + X.functions(best, slot="hidden")[0].name
    with pytest.raises(ActlabError, match="already stands for 'serf'"):
        actlab.to_transformers("mish", name="shipped_serf")
    with pytest.raises(ActlabError, match="element-wise"):
        actlab.to_transformers("frelu")


ROOT = Path(__file__).resolve().parents[1]


def timm_site() -> Path:
    """The Makefile's timm-site: in this checkout's .venv, else in the environment that runs the
    tests (a second checkout of the repository may use the first one's)."""
    sites = [ROOT / ".venv" / "timm-site", Path(sys.prefix) / "timm-site"]
    return next((s for s in sites if (s / "timm").is_dir()), sites[0])


def test_timm_model_takes_the_function_as_act_layer(tmp_path):
    """In this process where timm imports; else in a subprocess beside the Makefile's timm-site
    (timm with torchvision's Python code: PyPI's compiled torchvision needs PyPI's CUDA torch)."""
    try:
        import timm  # noqa: F401
    except Exception as e:
        site = timm_site()
        if not (site / "timm").is_dir():
            require_real(
                False,
                f"timm cannot be imported ({type(e).__name__}: {str(e).splitlines()[0][:120]}) and "
                f"{site} is missing; run make test",
            )
        env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(site), str(ROOT)])}
        r = subprocess.run(
            [
                sys.executable,
                "-c",
                f"import tests.test_export as t, pathlib; t.check_timm(pathlib.Path({str(tmp_path)!r}))",
            ],
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert r.returncode == 0, r.stderr[-3000:]
        return
    check_timm(tmp_path)


def check_timm(tmp_path: Path) -> None:
    import timm

    layer = actlab.to_timm("mish")
    (tmp_path / "act_timm.py").write_text(actlab.to_code(f"expr:{EVOLVED}", "timm"))
    shipped = load_module(tmp_path / "act_timm.py", "act_timm")
    torch.manual_seed(0)
    for cls, spec in [
        (layer, "mish"),
        (getattr(shipped, X.functions(f"expr:{EVOLVED}")[0].class_name), f"expr:{EVOLVED}"),
    ]:
        model = timm.create_model("resnet18", pretrained=False, num_classes=3, act_layer=cls)
        acts = [m for m in model.modules() if isinstance(m, cls)]
        assert len(acts) >= 9  # the stem and two in each of 8 blocks
        h = torch.randn(2, 4, 3, 3)
        close(acts[0](h), reference(spec, h), spec)
        model(torch.randn(2, 3, 32, 32)).sum().backward()


def test_onnx_model_with_an_evolved_and_a_compiled_fast_function(tmp_path, iris):
    need("onnxscript")
    ort = need("onnxruntime")
    best = write_best(tmp_path / "best.json", {"all": EVOLVED}, "single")
    fast = actlab.fast(COMPOSITE, mode="compiled")
    assert fast.choice == "compiled"
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 16), actlab.load(best), nn.Linear(16, 16), fast, nn.Linear(16, 3))
    opt = torch.optim.Adam(model.parameters(), 0.01)
    for _ in range(20):  # a few real steps through the compiled kernel
        opt.zero_grad()
        nn.functional.cross_entropy(model(iris.train.x), iris.train.y).backward()
        opt.step()
    model.eval()
    path = tmp_path / "model.onnx"
    torch.onnx.export(
        model,
        (iris.train.x[:8],),
        str(path),
        input_names=["x"],
        output_names=["y"],
        dynamic_shapes=({0: torch.export.Dim.DYNAMIC},),
    )
    got = ort.InferenceSession(str(path)).run(None, {"x": iris.test.x.numpy()})[0]
    np.testing.assert_allclose(got, model(iris.test.x).detach().numpy(), atol=1e-5)


# ------------------------------------------------------------------------------------ command
def test_cli_exports_code_keras_and_onnx(tmp_path, monkeypatch, capsys):
    ort = need("onnxruntime")
    need("onnxscript")
    monkeypatch.chdir(tmp_path)
    assert main(["export", "leaky_relu(negative_slope=0.1)", "--to", "code"]) == 0
    assert capsys.readouterr().out == actlab.to_code("leaky_relu(negative_slope=0.1)")

    assert main(["export", "mish", "--to", "keras"]) == 0
    assert "wrote mish_keras.py" in capsys.readouterr().out
    assert (tmp_path / "mish_keras.py").read_text() == actlab.to_code("mish", "keras")

    best = write_best(tmp_path / "best.json", {"input": "x", "hidden": EVOLVED, "output": "relu(x)"}, "triple")
    assert main(["export", best, "--to", "timm", "--name", "ev"]) == 0
    text = (tmp_path / "ev_timm.py").read_text()
    assert all(f"def ev_{slot}(x" in text for slot in ("input", "hidden", "output"))

    assert main(["export", best, "--to", "onnx", "--slot", "hidden", "--rank", "3", "--out", "sub/act.onnx"]) == 0
    assert "wrote sub/act.onnx" in capsys.readouterr().out
    x = torch.randn(2, 7, 5)
    got = ort.InferenceSession(str(tmp_path / "sub/act.onnx")).run(None, {"x": x.numpy()})[0]
    close(got, reference(f"expr:{EVOLVED}", x), "onnx")


@pytest.mark.parametrize(
    "argv,words",
    [
        (["frelu", "--to", "keras"], "images with learned weights"),
        (["frelu", "--to", "onnx"], "learned weights"),
        (["nosuch", "--to", "code"], "unknown activation"),
        (["expr:max(x,", "--to", "code"], "cannot read expression"),
        (["expr:1 + 2", "--to", "code"], "is a constant"),
        (["mish", "--to", "code", "--name", "import"], "cannot name"),
        (["mish", "--to", "code", "--slot", "hidden"], "for a best.json"),
        (["mish", "--to", "keras", "--out", "act.txt"], "must end in .py"),
        (["mish", "--to", "keras", "--out", "."], "is a folder"),
        (["mish", "--to", "code", "--rank", "3"], "--rank is for --to onnx"),
        (["mish", "--to", "onnx", "--rank", "0"], "rank must be"),
        (["missing.json", "--to", "code"], "cannot read best.json"),
    ],
)
def test_cli_mistakes_are_one_line(tmp_path, monkeypatch, capsys, argv, words):
    monkeypatch.chdir(tmp_path)
    assert main(["export", *argv]) == 2
    err = capsys.readouterr().err
    assert err.startswith("actlab: error:") and err.count("\n") == 1 and words in err, err
    assert sorted(p.name for p in tmp_path.iterdir()) == []


def test_generated_code_holds_no_text_of_the_users(tmp_path):
    """A best.json whose path tries to end the module's docstring and add code: the path appears
    only escaped, in a comment; names are Python names or refused."""
    path = tmp_path / 'b"""\nimport os\n#.json'
    best = write_best(path, {"all": EVOLVED}, "single")
    for target in X.TARGETS:
        tree = ast.parse(actlab.to_code(best, target))
        imported = {
            a.name for node in ast.walk(tree) if isinstance(node, (ast.Import, ast.ImportFrom)) for a in node.names
        }
        assert "os" not in imported and imported <= {
            "torch",
            "torch.nn.functional",
            "nn",
            "keras",
            "ops",
            "ACT2CLS",
            "ACT2FN",
        }
    with pytest.raises(ActlabError, match="cannot name"):
        actlab.to_code("mish", name="x; import os")


def test_a_missing_library_says_what_to_install(tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "keras", None)  # as if not installed
    monkeypatch.setitem(sys.modules, "onnxscript", None)
    with pytest.raises(ActlabError, match=r"to_keras needs keras.*pip install 'actlab\[interop\]'"):
        actlab.to_keras("mish")
    assert main(["export", "mish", "--to", "onnx", "--out", str(tmp_path / "a.onnx")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "pip install 'actlab[interop]'" in err, err


def test_help_has_an_example(capsys):
    with pytest.raises(SystemExit) as e:
        main(["export", "--help"])
    assert e.value.code == 0 and "Examples:" in capsys.readouterr().out


def test_a_best_json_with_learned_constants_exports_one_function_per_layer_with_its_values(tmp_path):
    path = tmp_path / "best.json"
    path.write_text(
        json.dumps(
            {
                "format": "actlab-evolve-best",
                "version": 1,
                "mode": "single",
                "functions": {"all": "x * sigmoid(1.5 * x)"},
                "learn_constants": True,
                "learned": {"input": {"constants": [1.25]}, "hidden_1": {"constants": [2.0]}},
            }
        )
    )
    got = X.functions(str(path))
    assert [f.slot for f in got] == ["input", "hidden_1"]
    x = torch.linspace(-3, 3, 13, dtype=torch.float64)
    layers = actlab.load(path)
    for f in got:  # the exported function of each layer is that layer's trained module
        (tmp_path / f"act_{f.slot}.py").write_text(actlab.to_code(f.spec, "torch"))
        mod = load_module(tmp_path / f"act_{f.slot}.py", f"act_{f.slot}")
        fn = next(v for k, v in vars(mod).items() if callable(v) and not isinstance(v, type) and k.startswith("expr_"))
        torch.testing.assert_close(fn(x), layers[f.slot](x).detach())

"""The layers import only downwards, and `cf502 check` loads none of the service libraries.

    core (cf502/*.py, render/, settings/)  <  checks/, engine  <  aws/  <  demo/  <  pool/  <  ops/
        <  bot/  <  handlers/  <  cli/ and the `__main__` entries

A module may import its own layer and the ones below it, never one above: the engine knows nothing
of queues, the pool nothing of Prometheus or Slack, `bot` nothing of its listeners. The command
line's option parser (`cf502.options`) is for the command line and the Slack command parser only.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("cf502", "bot", "handlers")

# Lowest first; a module's layer is the first prefix that matches its dotted name.
LAYERS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("cli", ("cf502.cli", "cf502.entry", "cf502.__main__", "bot.__main__")),
    ("handlers", ("handlers",)),
    ("bot", ("bot",)),
    ("options", ("cf502.options",)),
    ("ops", ("cf502.ops",)),
    ("pool", ("cf502.pool",)),
    ("demo", ("cf502.demo",)),  # runs diagnoses; only the command line imports it
    ("aws", ("cf502.aws",)),  # reads AWS (boto3) for a diagnosis; never on the plain check path
    ("checks", ("cf502.checks", "cf502.engine")),
    ("core", ("cf502",)),
)
RANK = {name: rank for rank, name in enumerate(reversed([name for name, _ in LAYERS]))}

SERVICE_LIBRARIES = ("redis", "slack_bolt", "slack_sdk", "aiohttp", "prometheus_client", "boto3")
# What only the checks after the name's resolution need (TLS, HTTP, the CloudFront viewer request):
# the engine imports them in a thread while the name resolves, never before the first packet.
CHECK_LIBRARIES = ("cryptography", "OpenSSL", "h11", "httpx", "httpcore", "certifi")


def layer_of(module: str) -> str | None:
    """The layer of a module of ours (None: not ours, e.g. the standard library)."""
    for name, prefixes in LAYERS:
        if any(module == p or module.startswith(p + ".") for p in prefixes):
            return name
    return None


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imports_of(path: Path, module: str) -> list[tuple[int, str]]:
    """Every module `path` imports, at any depth (function-local imports count), with its line."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            # `from cf502 import metrics` imports the module cf502.metrics, not just cf502.
            found += [(node.lineno, f"{base}.{alias.name}") for alias in node.names]
    return found


def sources() -> list[Path]:
    return sorted(p for pkg in PACKAGES for p in (ROOT / pkg).rglob("*.py"))


def upward_imports() -> list[str]:
    problems = []
    for path in sources():
        module = module_name(path)
        own = layer_of(module)
        assert own is not None, f"{module} belongs to no layer"
        for line, imported in imports_of(path, module):
            target = layer_of(imported)
            if target is None:
                continue
            if RANK[target] > RANK[own]:
                where = f"{path.relative_to(ROOT)}:{line}"
                problems.append(f"{where}: {module} ({own}) imports {imported} ({target})")
    return problems


def test_every_module_imports_only_its_own_layer_and_those_below() -> None:
    # Given every module of cf502/, bot/ and handlers/, When their imports are read
    problems = upward_imports()
    # Then none reaches a higher layer
    assert problems == [], "upward imports:\n" + "\n".join(problems)


def test_the_layer_check_sees_a_function_local_upward_import(tmp_path: Path) -> None:
    # Given a pool module that imports metrics inside a function
    source = tmp_path / "sample.py"
    source.write_text("def f():\n    from cf502.ops import metrics\n")
    # When its imports are read, Then the upward one is found and placed in its layer
    found = imports_of(source, "cf502.pool.sample")
    assert found == [(2, "cf502.ops.metrics")]
    assert RANK[layer_of("cf502.ops.metrics") or ""] > RANK["pool"]


def _modules_after(code: str) -> set[str]:
    """The modules loaded by `code` in a fresh interpreter (with -X importtime, as an operator
    would measure it)."""
    probe = f"{code}\nimport json, sys\nprint(json.dumps(sorted(sys.modules)))"
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", probe],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return set(json.loads(done.stdout.splitlines()[-1]))


@pytest.mark.parametrize(
    "code",
    [
        "import cf502.cli",
        "import cf502.cli.check",
        # `cf502 check --help`: the whole parser is built, every subcommand's options included
        "from cf502.cli import main\ntry:\n    main(['check', '--help'])\nexcept SystemExit:\n    pass",
    ],
)
def test_the_check_command_loads_no_service_library(code: str) -> None:
    # Given a fresh interpreter, When it runs the `cf502 check` entry path
    loaded = _modules_after(code)
    # Then no queue, Slack, HTTP-server or metrics library was imported
    heavy = sorted(m for m in loaded if m.split(".")[0] in SERVICE_LIBRARIES)
    assert heavy == []


_HELP = (
    "from cf502.cli import main\ntry:\n    main(['check', '--help'])\nexcept SystemExit:\n    pass"
)


def _top(loaded: set[str], names: tuple[str, ...]) -> list[str]:
    return sorted({m.split(".")[0] for m in loaded} & set(names))


def test_the_parser_loads_no_network_library() -> None:
    # Given a fresh interpreter, When it prints `cf502 check --help`
    loaded = _modules_after(_HELP)
    # Then it loaded neither asyncio nor any library a check uses: help costs Python's start-up
    assert _top(loaded, ("asyncio", "dns", *CHECK_LIBRARIES, *SERVICE_LIBRARIES)) == []
    assert "cf502.engine" not in loaded


def test_the_engine_loads_only_what_the_first_packet_needs() -> None:
    # Given a fresh interpreter, When it imports the `cf502 check` path up to the engine
    loaded = _modules_after("import cf502.cli.check, cf502.engine")
    # Then dnspython is there (the name's resolution comes first) and nothing the later checks need
    assert "dns.asyncresolver" in loaded
    assert _top(loaded, CHECK_LIBRARIES) == []
    assert "cf502.checks.registry" not in loaded


def test_the_checks_load_no_viewer_client_nor_service_library() -> None:
    # Given a fresh interpreter, When it loads every check (as the engine's thread does)
    loaded = _modules_after("import cf502.engine, cf502.checks.registry")
    # Then the TLS and HTTP libraries are there, but httpx (only for cloudfront.edge with a
    # CloudFront domain) and the service libraries are not
    assert {"OpenSSL", "cryptography", "h11"} <= {m.split(".")[0] for m in loaded}
    assert _top(loaded, ("httpx", "httpcore", *SERVICE_LIBRARIES)) == []
    # Nor certifi (its importlib.resources brings pathlib, tempfile, zipfile ...): the trust
    # store finds its bundle without it
    assert "certifi" not in loaded and "importlib.resources" not in loaded


def test_the_trust_store_finds_certifis_bundle_where_certifi_says() -> None:
    import certifi

    from cf502.checks.tls._x509 import mozilla_bundle

    assert mozilla_bundle() == certifi.where()


def test_a_check_on_the_worker_pool_loads_no_engine() -> None:
    # Given `cf502 check --redis-url` (here to a closed loopback port: it fails at once)
    code = (
        "from cf502.cli import main\n"
        "main(['check', 'www.example.test', '--redis-url', 'redis://127.0.0.1:1/0'])"
    )
    # When it runs in a fresh interpreter
    loaded = _modules_after(code)
    # Then it loaded the queue client but neither the engine nor any check's library (redis-py
    # itself imports the top of `cryptography`, to know whether it is installed)
    assert "cf502.pool.queue.client" in loaded
    assert "cf502.engine" not in loaded
    assert _top(loaded, ("dns", "OpenSSL", "h11", "httpx", "certifi")) == []
    assert "cryptography.x509" not in loaded


def test_the_first_queries_load_only_the_standard_library() -> None:
    # Given a fresh interpreter, When it imports what sends the name's first queries
    code = "import cf502.entry, cf502.firstargs, cf502.firstquery"
    loaded = _modules_after(code) - _modules_after("pass")
    # Then nothing but the standard library came with it: not asyncio, not dnspython, not even
    # `socket` (its enums cost ~3 ms before the first packet), nor the command line's parser
    assert sorted(m for m in loaded if m.split(".")[0] not in sys.stdlib_module_names) == [
        "cf502",
        "cf502.entry",
        "cf502.firstargs",
        "cf502.firstquery",
    ]
    assert "argparse" not in loaded
    assert _top(loaded, ("asyncio", "dns", "socket")) == []


def _features_after(code: str) -> dict[str, bool]:
    """dnspython's answers to "idna?" and "doh?" after `code`, in a fresh interpreter."""
    probe = (
        f"{code}\nimport dns._features, json, sys\n"
        "print(json.dumps({f: dns._features.have(f) for f in ('idna', 'doh')}))"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, timeout=60,
        check=True,
    )  # fmt: skip
    features: dict[str, bool] = json.loads(done.stdout.splitlines()[-1])
    return features


def test_the_checks_load_dnspython_without_package_metadata() -> None:
    # Given a fresh interpreter, When it loads the `cf502 check` path and every check
    loaded = _modules_after("import cf502.cli.check, cf502.engine, cf502.checks.registry")
    # Then dnspython is there but importlib.metadata (and the email, zipfile, csv ... it brings)
    # is not: dnspython's import-time features were decided without it
    assert "dns.asyncresolver" in loaded
    assert "importlib.metadata" not in loaded
    assert "zipfile" not in loaded and "csv" not in loaded
    # And they are what dnspython decides from the metadata by itself
    ours = _features_after("import cf502.checks.dns._lookup")
    assert ours == _features_after("import importlib.metadata")
    assert ours["idna"] is True  # idna is installed (httpx's dependency): IDNA 2008

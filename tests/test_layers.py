"""Dependencies point one way: no module imports an app of a higher layer.

The layers are read from the README's architecture section (the ```layers block, lowest first,
apps of one layer on one line). Every non-test, non-migration module of every app is parsed with
`ast`; every import counts, at module level and inside functions, absolute or relative. The
composition root (the project's settings, urls, Celery and WSGI/ASGI modules in `sons/`) wires
every app and is exempt.
"""

from __future__ import annotations

import ast
import re
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
COMPOSITION_ROOT = {
    "sons/settings.py",
    "sons/urls.py",
    "sons/celery.py",
    "sons/wsgi.py",
    "sons/asgi.py",
}
COMPOSITION_ROOT_PATTERN = re.compile(r"^sons/settings[_a-z0-9]*\.py$")


def read_layers(text: str) -> list[list[str]]:
    """The ```layers block of the README: one layer a line, lowest first, apps comma-separated."""
    blocks = re.findall(r"^```layers\n(.*?)^```", text, flags=re.MULTILINE | re.DOTALL)
    assert len(blocks) == 1, "README.md doit contenir exactement un bloc ```layers"
    layers = [
        [app.strip() for app in line.split(",") if app.strip()]
        for line in blocks[0].splitlines()
        if line.strip()
    ]
    apps = [app for layer in layers for app in layer]
    assert len(apps) == len(set(apps)), f"une application figure deux fois : {apps}"
    return layers


LAYERS = read_layers(README.read_text(encoding="utf-8"))
LEVEL = {app: level for level, layer in enumerate(LAYERS) for app in layer}


@dataclass(frozen=True)
class Import:
    module: str  # the importing module, dotted
    path: str  # relative to the repository
    line: int
    target: str  # the imported module, dotted and absolute

    @property
    def app(self) -> str:
        return self.module.split(".")[0]

    @property
    def target_app(self) -> str:
        return self.target.split(".")[0]


def is_composition_root(path: str) -> bool:
    return path in COMPOSITION_ROOT or bool(COMPOSITION_ROOT_PATTERN.match(path))


def app_modules(app: str) -> list[Path]:
    return sorted(
        path
        for path in (ROOT / app).rglob("*.py")
        if "migrations" not in path.relative_to(ROOT).parts
        and "tests" not in path.relative_to(ROOT).parts
        and not path.name.startswith("test_")
    )


def dotted(path: Path) -> tuple[str, str]:
    """(module, package) of a file: 'sons.services.orders', 'sons.services'."""
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
        return ".".join(parts), ".".join(parts)
    return ".".join(parts), ".".join(parts[:-1])


def resolve(node: ast.ImportFrom, package: str) -> list[str]:
    if not node.level:
        base = node.module or ""
    else:
        pieces = package.split(".")
        if node.level - 1 > len(pieces):
            raise AssertionError(f"import relatif hors du paquet {package} (ligne {node.lineno})")
        pieces = pieces[: len(pieces) - (node.level - 1)]
        base = ".".join(pieces + ([node.module] if node.module else []))
    if node.module:
        return [base]
    # `from . import x, y`: each name may be a module of the package.
    return [f"{base}.{alias.name}" for alias in node.names]


def imports_of(path: Path) -> list[Import]:
    module, package = dotted(path)
    rel = path.relative_to(ROOT).as_posix()
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=rel)
    found = []
    for node in ast.walk(tree):  # every level: module, class, function, conditional
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            targets = resolve(node, package)
        else:
            continue
        found += [Import(module, rel, node.lineno, target) for target in targets]
    return found


def upward_imports(paths: list[Path]) -> list[str]:
    faults = []
    for path in paths:
        rel = path.relative_to(ROOT).as_posix()
        if is_composition_root(rel):
            continue
        for imp in imports_of(path):
            if imp.target_app not in LEVEL or imp.target_app == imp.app:
                continue
            mine, theirs = LEVEL[imp.app], LEVEL[imp.target_app]
            if theirs >= mine:  # above, or a peer of the same layer
                faults.append(
                    f"{imp.path}:{imp.line} ({imp.module}, couche {mine + 1}) importe "
                    f"{imp.target} de l'application « {imp.target_app} » (couche {theirs + 1})"
                )
    return faults


def all_modules() -> list[Path]:
    return [path for app in LEVEL for path in app_modules(app)]


def test_the_readme_lists_every_app_once():
    assert sorted(LEVEL) == sorted(
        [
            "core",
            "catalogue",
            "sons",
            "payments",
            "signing",
            "api",
            "reminders",
            "dashboard",
            "portal",
        ]
    )
    for app in LEVEL:
        assert (ROOT / app / "apps.py").exists(), f"{app} n'est pas une application du projet"


def test_no_module_imports_an_app_of_a_higher_or_equal_layer():
    modules = all_modules()
    assert len(modules) > 100  # the walk found the code, not an empty tree
    faults = upward_imports(modules)
    assert not faults, "Importations vers une couche supérieure :\n" + "\n".join(faults)


def _guards_first_party_import(handler: ast.Try) -> list[str]:
    """The first-party modules imported in the body of a try whose handler catches ImportError."""
    catches = False
    for h in handler.handlers:
        names = []
        if h.type is None:
            names = ["ImportError"]  # a bare except catches it too
        elif isinstance(h.type, ast.Tuple):
            names = [getattr(e, "id", getattr(e, "attr", "")) for e in h.type.elts]
        else:
            names = [getattr(h.type, "id", getattr(h.type, "attr", ""))]
        catches = catches or bool({"ImportError", "ModuleNotFoundError"} & set(names))
    if not catches:
        return []
    guarded = []
    for stmt in handler.body:
        for node in ast.walk(stmt):
            if isinstance(node, ast.Import):
                guarded += [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                guarded.append("." if node.level else node.module or "")
    return [name for name in guarded if name == "." or name.split(".")[0] in LEVEL]


def test_no_first_party_import_is_treated_as_optional():
    faults = []
    for path in all_modules():
        rel = path.relative_to(ROOT).as_posix()
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=rel)
        for node in ast.walk(tree):
            if isinstance(node, ast.Try):
                faults += [
                    f"{rel}:{node.lineno} : {name}" for name in _guards_first_party_import(node)
                ]
    assert not faults, (
        "Chaque application est installée : pas de try/except ImportError autour de :\n"
        + "\n".join(faults)
    )


# -- the checker itself -----------------------------------------------------------------------


def _write(root: Path, rel: str, text: str) -> Path:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def test_the_checker_sees_function_level_and_relative_imports(tmp_path, monkeypatch):
    """A throw-away tree laid out like the project's: the faults are found, and only them."""
    me = sys.modules[__name__]
    monkeypatch.setattr(me, "ROOT", tmp_path)
    paths = [
        _write(tmp_path, "sons/services/late.py", "def f():\n    from signing import pades\n"),
        _write(tmp_path, "sons/services/fine.py", "from ..models import x\nfrom core import y\n"),
        _write(tmp_path, "payments/far.py", "from portal.views import orders\n"),
        _write(tmp_path, "sons/settings_extra.py", "import portal\n"),
        _write(tmp_path, "reminders/peer.py", "import dashboard.selectors\n"),
    ]
    faults = me.upward_imports(paths)
    assert len(faults) == 3, faults
    assert faults[0].startswith("sons/services/late.py:2 ")
    assert "« signing »" in faults[0]
    assert faults[1].startswith("payments/far.py:1 ") and "« portal »" in faults[1]
    assert faults[2].startswith("reminders/peer.py:1 ") and "« dashboard »" in faults[2]


def test_the_checker_sees_an_optional_first_party_import():
    tree = ast.parse(
        "try:\n    from signing.services import x\nexcept ImportError:\n    x = None\n"
        "try:\n    import weasyprint\nexcept ImportError:\n    pass\n"
    )
    tries = [node for node in ast.walk(tree) if isinstance(node, ast.Try)]
    assert [_guards_first_party_import(t) for t in tries] == [["signing.services"], []]

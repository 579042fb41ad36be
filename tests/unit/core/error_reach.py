"""Which error codes a REST route can answer, read from the source (no import, no network).

A conservative static reading of ``layers/keyframe``: from a route function, follow every call to a
function of the ``keyframe`` package that can be named statically (a module-level function, a name
imported from a keyframe module, ``module.function``, ``Class.method``, a method of the same class
via ``self``/``cls``) and every pydantic model the route takes (its validators), and collect each
construction of a :mod:`keyframe.errors` class: ``NotFound("...", code="ASSET_NOT_FOUND")`` gives
``ASSET_NOT_FOUND``; without ``code=`` the class's ``default_code``. Calls on other objects
(``table.get(...)``) are not followed, so the answer may miss a code behind such a call, and may
name a code on a branch the route never takes; ``tests/unit/core/test_error_contract.py`` uses it to
fail when a route can reach a code its declaration does not list.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

from keyframe import errors

PACKAGE = Path(errors.__file__).resolve().parent
SKIPPED = ("cli", "local")

ERROR_CLASSES: dict[str, type[errors.KeyframeError]] = {}


def _collect_error_classes() -> None:
    import importlib

    for module in ("keyframe.errors", "keyframe.pipeline.errors", "keyframe.media.errors"):
        mod = importlib.import_module(module)
        for name in dir(mod):
            obj = getattr(mod, name)
            if isinstance(obj, type) and issubclass(obj, errors.KeyframeError):
                ERROR_CLASSES[name] = obj


_collect_error_classes()


@dataclass
class Raised:
    """One construction of an error class: its class name and literal code (``None``: not a literal)."""

    cls: str
    code: str | None
    where: str


@dataclass
class Function:
    qualname: str  # module:func or module:Class.method
    node: ast.AST
    module: Module
    cls: str | None = None


@dataclass
class Module:
    name: str
    tree: ast.Module
    imports: dict[str, str] = field(default_factory=dict)  # local name -> "module" or "module:attr"
    functions: dict[str, Function] = field(default_factory=dict)  # "func" or "Class.method"
    classes: dict[str, ast.ClassDef] = field(default_factory=dict)


def _module_name(path: Path) -> str:
    rel = path.relative_to(PACKAGE.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _parse(path: Path) -> Module:
    name = _module_name(path)
    module = Module(name, ast.parse(path.read_text(), str(path)))
    for node in ast.walk(module.tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("keyframe"):
            for alias in node.names:
                module.imports[alias.asname or alias.name] = f"{node.module}:{alias.name}"
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("keyframe"):
                    module.imports[alias.asname or alias.name] = alias.name
    for node in module.tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            module.functions[node.name] = Function(f"{name}:{node.name}", node, module)
        elif isinstance(node, ast.ClassDef):
            module.classes[node.name] = node
            for item in node.body:
                if isinstance(item, ast.FunctionDef | ast.AsyncFunctionDef):
                    key = f"{node.name}.{item.name}"
                    module.functions[key] = Function(f"{name}:{key}", item, module, node.name)
    return module


@cache
def modules() -> dict[str, Module]:
    """Every module of the keyframe package (less the CLI and the local stack), parsed."""
    found: dict[str, Module] = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        if path.relative_to(PACKAGE).parts[0] not in SKIPPED:
            module = _parse(path)
            found[module.name] = module
    return found


def _lookup(target: str) -> tuple[Module | None, str | None]:
    """``module:attr`` or ``module`` -> (module, attr)."""
    mods = modules()
    if ":" in target:
        mod, attr = target.split(":", 1)
        if f"{mod}.{attr}" in mods:  # from keyframe.catalog import assets
            return mods[f"{mod}.{attr}"], None
        if mod in mods:
            return mods[mod], attr
        return None, None
    return mods.get(target), None


def _resolve_name(module: Module, name: str) -> tuple[Module | None, str | None]:
    if name in module.functions or name in module.classes:
        return module, name
    if name in module.imports:
        mod, attr = _lookup(module.imports[name])
        if mod is not None and attr is not None:
            # follow a re-export once
            if attr not in mod.functions and attr not in mod.classes and attr in mod.imports:
                return _resolve_name(mod, attr)
            return mod, attr
        return mod, None
    return None, None


class _Reader:
    """What one function calls and which errors it constructs."""

    def __init__(self, func: Function) -> None:
        self.func = func
        self.calls: list[Function] = []
        self.raised: list[Raised] = []

    def function_of(self, mod: Module | None, attr: str | None, call: ast.Call | None = None) -> None:
        if mod is None or attr is None:
            return
        if attr in mod.functions:
            callee = mod.functions[attr]
            table = CODE_TABLES.get(callee.qualname)
            if table is not None and call is not None:
                self.raised.extend(
                    Raised(*(found if isinstance(found, tuple) else ("Forbidden", found)), where)
                    for found in table(call)
                    for where in [f"{self.func.qualname}:{call.lineno}"]
                )
                self.calls.append(callee)
                return
            factory = _factory(callee)
            if factory is not None and call is not None:
                self.raised.append(_factory_code(factory, callee, call, self.func))
                return
            self.calls.append(callee)
        elif attr in mod.classes:
            # constructing a keyframe class (a request model): its __init__ and validators run
            self.calls.extend(fn for key, fn in mod.functions.items() if key.startswith(attr + "."))

    def call(self, node: ast.Call) -> None:
        module, target = self.func.module, node.func
        if isinstance(target, ast.Name):
            if target.id in ERROR_CLASSES:
                self.raised.append(_raised(target.id, node, self.func))
            else:
                self.function_of(*_resolve_name(module, target.id), call=node)
        elif isinstance(target, ast.Attribute) and isinstance(target.value, ast.Name):
            self.attribute_call(target.value.id, target.attr, node)

    def attribute_call(self, base: str, attr: str, node: ast.Call) -> None:
        module = self.func.module
        if base in ("self", "cls") and self.func.cls:
            self.function_of(module, f"{self.func.cls}.{attr}")
            return
        if base in ERROR_CLASSES:
            return
        mod, name = _resolve_name(module, base)
        if mod is not None and name is None:  # module.function / module.ErrorClass
            if attr in ERROR_CLASSES:
                self.raised.append(_raised(attr, node, self.func))
            else:
                self.function_of(mod, attr, call=node)
        elif mod is not None and name in mod.classes:  # Class.method, Model.model_validate
            self.function_of(mod, f"{name}.{attr}")
            if attr.startswith("model_validate"):
                self.function_of(mod, name)

    def read(self) -> _Reader:
        for node in ast.walk(self.func.node):
            if isinstance(node, ast.Call):
                self.call(node)
            elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load):
                # annotations and references to keyframe models (request bodies)
                mod, attr = _resolve_name(self.func.module, node.id)
                if mod is not None and attr is not None and attr in mod.classes:
                    self.function_of(mod, attr)
        return self


def _callees(func: Function) -> tuple[list[Function], list[Raised]]:
    reader = _Reader(func).read()
    return reader.calls, reader.raised


def _ownership_codes(call: ast.Call) -> list[str]:
    """``require_owner_or(principal, owner, Permission.X)`` answers ``OWNERSHIP[Permission.X].code``."""
    from keyframe.identity.permissions import OWNERSHIP, Permission

    argument = call.args[2] if len(call.args) > 2 else None
    if isinstance(argument, ast.Attribute):
        return [OWNERSHIP[Permission[argument.attr]].code]
    return sorted({rule.code for rule in OWNERSHIP.values()})


def _quota_codes(call: ast.Call) -> list[tuple[str, str]]:
    """``quotas.require|refusal(studio, Quota.X, n)`` answers ``CODES[Quota.X]`` (413 for storage, else 429);
    with a variable quota the code is read at its caller's call site."""
    from keyframe.usage.quotas import CODES, Quota

    argument = call.args[1] if len(call.args) > 1 else None
    argument = next((k.value for k in call.keywords if k.arg == "quota"), argument)
    if not isinstance(argument, ast.Attribute):
        return []
    quota = Quota[argument.attr]
    return [("PayloadTooLarge" if quota is Quota.STORAGE_BYTES else "TooManyRequests", CODES[quota])]


CODE_TABLES = {
    "keyframe.identity.permissions:require_owner_or": _ownership_codes,
    "keyframe.usage.quotas:require": _quota_codes,
    "keyframe.usage.quotas:refusal": _quota_codes,
}
"""Functions whose error code comes from a table, not a literal: each reads the call site's code."""


def _factory(func: Function) -> tuple[str, str] | None:
    """(error class, parameter name) when ``func`` builds an error whose code is one of its parameters."""
    for node in ast.walk(func.node):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in ERROR_CLASSES:
            for keyword in node.keywords:
                if keyword.arg == "code" and isinstance(keyword.value, ast.Name):
                    return node.func.id, keyword.value.id
    return None


def _factory_code(factory: tuple[str, str], callee: Function, call: ast.Call, caller: Function) -> Raised:
    """The code an error factory such as ``_refused("REFRESH_TOKEN_REUSED")`` is called with."""
    cls, param = factory
    assert isinstance(callee.node, ast.FunctionDef)
    args = callee.node.args
    names = [a.arg for a in args.args]
    index = names.index(param)
    value: ast.expr | None = None
    for keyword in call.keywords:
        if keyword.arg == param:
            value = keyword.value
    if value is None and index < len(call.args):
        value = call.args[index]
    if value is None:
        defaults = args.defaults
        offset = len(names) - len(defaults)
        value = defaults[index - offset] if index >= offset else None
    code = value.value if isinstance(value, ast.Constant) else None
    return Raised(cls, code, f"{caller.qualname}:{call.lineno}")


def _raised(cls: str, node: ast.Call, func: Function) -> Raised:
    code: str | None = ERROR_CLASSES[cls].default_code
    for keyword in node.keywords:
        if keyword.arg == "code":
            code = keyword.value.value if isinstance(keyword.value, ast.Constant) else None
    return Raised(cls, code, f"{func.qualname}:{node.lineno}")


@cache
def reachable(qualname: str) -> tuple[Raised, ...]:
    """Every error construction reachable from the function ``module:func`` (or ``module:Class.m``)."""
    mod_name, key = qualname.split(":", 1)
    start = modules()[mod_name].functions[key]
    seen: set[str] = set()
    stack = [start]
    found: list[Raised] = []
    while stack:
        func = stack.pop()
        if func.qualname in seen:
            continue
        seen.add(func.qualname)
        calls, raised = _callees(func)
        if func.qualname in CODE_TABLES:
            raised = [r for r in raised if r.code is not None]  # read at the call site
        found.extend(raised)
        stack.extend(calls)
    return tuple(found)


def literal_codes() -> list[Raised]:
    """Every construction of an error class in the package, with its literal code when it has one."""
    found: list[Raised] = []
    for module in modules().values():
        for func in module.functions.values():
            _calls, raised = _callees(func)
            if _factory(func) is not None or func.qualname in CODE_TABLES:
                raised = [r for r in raised if r.code is not None]  # counted where it is called
            found.extend(raised)
    return found

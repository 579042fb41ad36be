"""What a Python source file imports, read from its syntax tree (nothing is executed)."""

from __future__ import annotations

import ast
from pathlib import Path


def imported_modules(path: Path, *, inside_functions_only: bool = False) -> set[str]:
    """Absolute module names ``path`` imports: ``import a.b`` gives ``a.b``; ``from a import b`` gives
    ``a.b`` (``b`` may be a module or a name in ``a``; callers that need the module take ``a`` from
    it). Relative imports are left out. With ``inside_functions_only``, only imports written inside a
    function body (what runs when the function is called, not when the module loads)."""
    tree = ast.parse(path.read_text())
    roots: list[ast.AST] = [tree]
    if inside_functions_only:
        roots = [node for node in ast.walk(tree) if isinstance(node, ast.FunctionDef)]
    found: set[str] = set()
    for root in roots:
        for node in ast.walk(root):
            if isinstance(node, ast.Import):
                found.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found

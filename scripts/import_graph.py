"""Print the package's internal imports as `module -> module` lines, then any import cycles.

    python scripts/import_graph.py [package_dir]
"""

import ast
import sys
from pathlib import Path


def module_name(path: Path, root: Path) -> str:
    parts = path.relative_to(root.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def internal_imports(path: Path, package: str) -> set[str]:
    """Modules of `package` that `path` imports, at top level or inside functions."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names if alias.name.startswith(package)}
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.startswith(package):
            found.add(node.module)
    return found


def import_graph(root: Path) -> dict[str, set[str]]:
    modules = {module_name(p, root): p for p in sorted(root.rglob("*.py"))}
    graph = {}
    for name, path in modules.items():
        # `from xlmr_lit.tasks import glue` imports the module xlmr_lit.tasks.glue
        graph[name] = {m for m in internal_imports(path, root.name) if m in modules and m != name}
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module in modules:
                graph[name] |= {f"{node.module}.{a.name}" for a in node.names if f"{node.module}.{a.name}" in modules}
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Every elementary cycle, each reported once, starting at its smallest module name."""
    found = []

    def walk(start: str, node: str, path: list[str]) -> None:
        for nxt in sorted(graph.get(node, ())):
            if nxt == start:
                found.append(path + [start])
            elif nxt > start and nxt not in path:
                walk(start, nxt, path + [nxt])

    for start in sorted(graph):
        walk(start, start, [start])
    return found


def main() -> None:
    root = Path(sys.argv[1] if len(sys.argv) > 1 else Path(__file__).resolve().parents[1] / "xlmr_lit")
    graph = import_graph(root)
    for name in sorted(graph):
        for target in sorted(graph[name]):
            print(f"{name} -> {target}")
    found = cycles(graph)
    print(f"{sum(map(len, graph.values()))} imports, {len(found)} cycle(s)")
    for cycle in found:
        print("  cycle: " + " -> ".join(cycle))


if __name__ == "__main__":
    main()

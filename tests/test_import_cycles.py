"""The import graph of ``leash_cli`` has no cycles.

Built with grimp (the engine of import-linter) from every import statement in
the package: module-level, function-level (lazy) and ``if TYPE_CHECKING:``
ones alike — a lazy import that only dodges a cycle at run time is still a
cycle in the design.  A failure lists each cycle as a chain of imports with
the line that makes each step.
"""

from __future__ import annotations

import grimp
import pytest


def import_cycles(graph: grimp.ImportGraph) -> list[list[str]]:
    """One shortest cycle (``[a, b, ..., a]``) through each strongly connected group of modules."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[list[str]] = []
    counter = 0
    for root in sorted(graph.modules):  # Tarjan's algorithm, iteratively (no recursion limit)
        if root in index:
            continue
        work = [(root, iter(sorted(graph.find_modules_directly_imported_by(root))))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.find_modules_directly_imported_by(child)))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                group = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    group.append(member)
                    if member == node:
                        break
                if len(group) > 1 or node in graph.find_modules_directly_imported_by(node):
                    groups.append(sorted(group))
    return sorted(_shortest_cycle(graph, group) for group in groups)


def _shortest_cycle(graph: grimp.ImportGraph, group: list[str]) -> list[str]:
    members = set(group)
    start = group[0]
    previous: dict[str, str] = {}
    frontier = [start]
    while frontier:  # breadth first from start, back to start, inside the group
        following = []
        for node in frontier:
            for child in sorted(graph.find_modules_directly_imported_by(node) & members):
                if child == start:
                    chain = [start]
                    while node != start:
                        chain.append(node)
                        node = previous[node]
                    return [start, *reversed(chain[1:]), start]
                if child not in previous:
                    previous[child] = node
                    following.append(child)
        frontier = following
    raise AssertionError(f"no cycle through {start}")  # pragma: no cover


def describe(graph: grimp.ImportGraph, cycle: list[str]) -> str:
    steps = []
    for importer, imported in zip(cycle, cycle[1:]):
        lines = sorted({d["line_number"] for d in graph.get_import_details(importer=importer, imported=imported)})
        where = f" (line {', '.join(map(str, lines))})" if lines else ""
        steps.append(f"  {importer} imports {imported}{where}")
    return "\n".join(steps)


@pytest.fixture(scope="module")
def graph() -> grimp.ImportGraph:
    return grimp.build_graph("leash_cli", exclude_type_checking_imports=False, cache_dir=None)


def test_the_graph_sees_lazy_and_type_checking_imports(graph):
    # the graph is the whole package, function-level imports included (state opens Redis lazily)
    assert "leash_cli.store.backend" in graph.modules and "leash_cli.tui.host" in graph.modules
    assert graph.direct_import_exists(importer="leash_cli.state", imported="leash_cli.state.redis")
    assert graph.direct_import_exists(importer="leash_cli.tui.screens.cost", imported="leash_cli.tui.host")


def test_no_import_cycles(graph):
    cycles = import_cycles(graph)
    report = "\n\n".join(f"cycle {i + 1}: {' -> '.join(c)}\n{describe(graph, c)}" for i, c in enumerate(cycles))
    assert not cycles, f"{len(cycles)} import cycle(s) in leash_cli:\n\n{report}"


def test_the_cycle_finder_finds_cycles():
    g = grimp.ImportGraph()
    for importer, imported in [
        ("p.a", "p.b"),
        ("p.b", "p.c"),
        ("p.c", "p.a"),
        ("p.c", "p.d"),
        ("p.d", "p.e"),
        ("p.e", "p.d"),
        ("p.f", "p.a"),
    ]:
        g.add_import(importer=importer, imported=imported)
    assert import_cycles(g) == [["p.a", "p.b", "p.c", "p.a"], ["p.d", "p.e", "p.d"]]
    g.remove_import(importer="p.e", imported="p.d")
    g.remove_import(importer="p.c", imported="p.a")
    assert import_cycles(g) == []

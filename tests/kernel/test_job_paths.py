"""Every RQ job the product enqueues by a dotted path names a function that exists.

A job enqueued as a string is imported only by the worker that runs it: a renamed or moved
job function breaks no import and no test that runs jobs in-process with the old name still
queued elsewhere, and the first sign would be a failed job in production. So the paths are
read from the source and resolved here.
"""

from __future__ import annotations

import ast
import importlib
import itertools

from tests.helpers import ROOT, product_files

#: Enqueueing calls and the position of the job among their arguments (also taken as the
#: ``func`` keyword): the kernel's ``enqueue_after_commit(queue, func, ...)`` and RQ's own.
ENQUEUERS = {"enqueue_after_commit": 1, "enqueue": 0, "enqueue_at": 1, "prepare_data": 0}

#: Distinct job paths found when this test was written; fewer means the reader went blind.
KNOWN_PATHS = 10


def _parents(tree: ast.AST) -> dict[ast.AST, ast.AST]:
    return {child: node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)}


def _enclosing_function(node, parents) -> ast.FunctionDef | None:
    while node in parents:
        node = parents[node]
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            return node
    return None


def _values_passed(tree: ast.AST, function: ast.FunctionDef, param: str) -> set[str] | None:
    """The string constants passed as ``param`` wherever the module calls ``function``;
    None when a call passes something else (the substitutions are then unknown)."""
    names = [a.arg for a in function.args.args]
    if param not in names:
        return None
    index, values = names.index(param), set()
    for call in ast.walk(tree):
        if not (isinstance(call, ast.Call) and _called_name(call) == function.name):
            continue
        arg = _argument(call, index, param)
        if not (isinstance(arg, ast.Constant) and isinstance(arg.value, str)):
            return None
        values.add(arg.value)
    return values or None


def _called_name(call: ast.Call) -> str | None:
    if isinstance(call.func, ast.Name):
        return call.func.id
    if isinstance(call.func, ast.Attribute):
        return call.func.attr
    return None


def _argument(call: ast.Call, index: int, keyword: str) -> ast.AST | None:
    if len(call.args) > index and not any(isinstance(a, ast.Starred) for a in call.args[:index]):
        return call.args[index]
    return next((k.value for k in call.keywords if k.arg == keyword), None)


def _expand(fstring: ast.JoinedStr, tree, parents) -> list[str] | None:
    """The paths an f-string can spell, when each substitution is a parameter of the
    enclosing function that the module only ever passes string constants."""
    function = _enclosing_function(fstring, parents)
    choices = []
    for part in fstring.values:
        if isinstance(part, ast.Constant):
            choices.append([part.value])
        elif isinstance(part.value, ast.Name) and function is not None:
            passed = _values_passed(tree, function, part.value.id)
            if passed is None:
                return None
            choices.append(sorted(passed))
        else:
            return None
    return ["".join(combo) for combo in itertools.product(*choices)]


def job_paths() -> tuple[dict[str, list[str]], list[str]]:
    """({dotted path: [where it is enqueued]}, [places whose job path cannot be read])."""
    found: dict[str, list[str]] = {}
    unreadable: list[str] = []
    for path in product_files().values():
        tree = ast.parse(path.read_text())
        parents = _parents(tree)
        where = str(path.relative_to(ROOT))
        constants = {
            target.id: node.value.value
            for node in tree.body
            if isinstance(node, ast.Assign)
            and isinstance(node.value, ast.Constant)
            and isinstance(node.value.value, str)
            for target in node.targets
            if isinstance(target, ast.Name)
        }
        for name, value in constants.items():
            if name.endswith("_JOB"):
                found.setdefault(value, []).append(f"{where} ({name})")
        for call in ast.walk(tree):
            if not isinstance(call, ast.Call) or _called_name(call) not in ENQUEUERS:
                continue
            arg = _argument(call, ENQUEUERS[_called_name(call)], "func")
            place = f"{where}:{call.lineno}"
            if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                found.setdefault(arg.value, []).append(place)
            elif isinstance(arg, ast.Name) and arg.id in constants:
                found.setdefault(constants[arg.id], []).append(place)
            elif isinstance(arg, ast.JoinedStr):
                expanded = _expand(arg, tree, parents)
                if expanded is None:
                    unreadable.append(place)
                for value in expanded or ():
                    found.setdefault(value, []).append(place)
            # Anything else is a function object (checked by the import itself) or a
            # parameter forwarded by the queue helpers, whose callers are read here.
    return found, unreadable


def _resolves(dotted: str) -> bool:
    module_name, _, attribute = dotted.rpartition(".")
    try:
        module = importlib.import_module(module_name)
    except ImportError:
        return False
    return callable(getattr(module, attribute, None))


def test_every_job_enqueued_by_its_path_is_a_function():
    found, unreadable = job_paths()
    assert not unreadable, f"job paths built in a way this test cannot read: {unreadable}"
    broken = {path: where for path, where in found.items() if not _resolves(path)}
    assert not broken, f"enqueued jobs that do not resolve to a callable: {broken}"


def test_the_reader_finds_every_job_path():
    found, _ = job_paths()
    # Both substitutions of the campaign scheduler's f-string are read.
    assert {
        "marketplace.campaigns.jobs.start_campaign",
        "marketplace.campaigns.jobs.close_campaign",
    } <= set(found)
    assert len(found) >= KNOWN_PATHS, sorted(found)

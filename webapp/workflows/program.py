"""A workflow's steps as a tree (if/else steps hold a list of steps per branch) and as the flat program
the engine runs.

An enrolment's `step_index` is a position in the program: the steps in order, each if/else followed
by its "yes" steps, a jump over the "no" steps, then its "no" steps. A workflow without branches has
the same positions as its list of steps. Jumps only go forward, so a step runs at most once per
enrolment and its StepRun (unique per enrolment and step) stays the record of that run.
"""

from collections.abc import Iterator, Mapping
from dataclasses import dataclass

BRANCHES = ("yes", "no")


@dataclass(frozen=True)
class Instruction:
    """A step to run (with, for an if/else, where its "no" branch starts), or a jump (step is None)."""

    step: Mapping | None
    else_at: int | None = None
    jump_to: int | None = None


def branches(step: Mapping) -> dict[str, list]:
    """An if/else step's branches ({"yes": [...], "no": [...]}); {} for other steps."""
    if step.get("type") != "if_else":
        return {}
    found = step.get("branches") or {}
    return {name: list(found.get(name) or []) for name in BRANCHES}


def flatten(steps: list) -> list[Instruction]:
    """The program of a list of steps (see the module docstring)."""
    program: list[Instruction] = []

    def emit(items: list) -> None:
        for step in items:
            arms = branches(step)
            if not arms:
                program.append(Instruction(step))
                continue
            at = len(program)
            program.append(Instruction(step))  # completed below, once the branches' positions are known
            emit(arms["yes"])
            jump_at = len(program)
            program.append(Instruction(None))
            else_at = len(program)
            emit(arms["no"])
            program[at] = Instruction(step, else_at=else_at)
            program[jump_at] = Instruction(None, jump_to=len(program))

    emit(list(steps or []))
    return program


def walk(steps: list, path: tuple = ()) -> Iterator[tuple[Mapping, tuple]]:
    """Every step of the tree in order, with its path: ((index, None), (index, "yes"), …) from the top."""
    for index, step in enumerate(steps or []):
        yield step, (*path, (index, None))
        for name, items in branches(step).items():
            yield from walk(items, (*path, (index, name)))


def number(path: tuple) -> str:
    """A step's number from its walk() path, as the editor, a test run and the history show it:
    "3" for the third top-level step, "3.yes.1" for the first step of its "If yes" branch."""
    return ".".join(f"{index + 1}.{name}" if name else f"{index + 1}" for index, name in path)


def numbers(steps: list) -> dict[str, str]:
    """Every step's number (see number()), by step id."""
    return {str(step.get("id")): number(path) for step, path in walk(steps)}


def find(steps: list, step_id: str) -> Mapping | None:
    """The step with this id anywhere in the tree, or None."""
    return next((step for step, _path in walk(steps) if step.get("id") == step_id), None)


def before(steps: list, step_id: str | None) -> list[Mapping] | None:
    """The steps that always run before this one (the earlier ones of its list and of each enclosing
    list, the enclosing if/else steps included), in order; None when the step is not in the tree."""
    for index, step in enumerate(steps or []):
        if step.get("id") == step_id:
            return list(steps[:index])
        for items in branches(step).values():
            inner = before(items, step_id)
            if inner is not None:
                return [*steps[:index], step, *inner]
    return None


def after(steps: list, step_id: str | None) -> list[Mapping]:
    """The steps that may run after this one: the rest of the tree, in order (for 'used before it is made' checks)."""
    found = False
    later = []
    for step, _path in walk(steps):
        if found:
            later.append(step)
        elif step.get("id") == step_id:
            found = True
    return later


def step_at(steps: list, index: int) -> Mapping | None:
    """The step at a program position (jumps count as the step after them); None past the end."""
    program = flatten(steps)
    while 0 <= index < len(program) and program[index].step is None:
        jump_to = program[index].jump_to
        assert jump_to is not None, "an instruction without a step is a jump"
        index = jump_to
    return program[index].step if 0 <= index < len(program) else None


def position(steps: list, step_id: str) -> int | None:
    """The program position of a step, or None."""
    for index, instruction in enumerate(flatten(steps)):
        if instruction.step is not None and instruction.step.get("id") == step_id:
            return index
    return None

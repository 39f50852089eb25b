"""A workflow's tree as the engine's flat program (webapp/workflows/program.py), without an app."""

from webapp.workflows import program
from webapp.workflows.program import Instruction


def s(step_id, step_type="send_email"):
    return {"id": step_id, "type": step_type}


def fork(step_id, yes=(), no=()):
    return {"id": step_id, "type": "if_else", "branches": {"yes": list(yes), "no": list(no)}}


# a, if(yes: b, c; no: d), e  →  0 a · 1 if · 2 b · 3 c · 4 jump · 5 d · 6 e
TREE = [s("a"), fork("if", yes=[s("b"), s("c")], no=[s("d")]), s("e")]


def test_without_branches_the_program_is_the_list():
    steps = [s("a"), s("b")]
    assert program.flatten(steps) == [Instruction(steps[0]), Instruction(steps[1])]
    assert program.flatten(None) == [] and program.flatten([]) == []


def test_an_if_else_is_followed_by_yes_a_jump_over_no_then_no():
    flat = program.flatten(TREE)
    assert [i.step["id"] if i.step else None for i in flat] == ["a", "if", "b", "c", None, "d", "e"]
    assert flat[1].else_at == 5 and flat[4] == Instruction(None, jump_to=6)


def test_nested_forks_jump_only_forward():
    tree = [fork("outer", yes=[fork("inner", yes=[s("x")], no=[s("y")])], no=[s("z")]), s("end")]
    flat = program.flatten(tree)
    assert [i.step["id"] if i.step else None for i in flat] == ["outer", "inner", "x", None, "y", None, "z", "end"]
    assert flat[0].else_at == 6 and flat[1].else_at == 4
    assert flat[3].jump_to == 5 and flat[5].jump_to == 7
    assert all(i.jump_to > at for at, i in enumerate(flat) if i.jump_to is not None)


def test_branches_of_other_steps_are_empty_and_missing_arms_are_lists():
    assert program.branches(s("a")) == {}
    assert program.branches({"id": "f", "type": "if_else"}) == {"yes": [], "no": []}


def test_walk_gives_every_step_with_its_path():
    assert [(step["id"], path) for step, path in program.walk(TREE)] == [
        ("a", ((0, None),)),
        ("if", ((1, None),)),
        ("b", ((1, "yes"), (0, None))),
        ("c", ((1, "yes"), (1, None))),
        ("d", ((1, "no"), (0, None))),
        ("e", ((2, None),)),
    ]


def test_find_before_and_after():
    assert program.find(TREE, "d")["id"] == "d" and program.find(TREE, "nope") is None
    assert [step["id"] for step in program.before(TREE, "c")] == ["a", "if", "b"]
    assert [step["id"] for step in program.before(TREE, "d")] == ["a", "if"]  # not the yes branch
    assert program.before(TREE, "nope") is None
    assert [step["id"] for step in program.after(TREE, "c")] == ["d", "e"]
    assert program.after(TREE, "nope") == []


def test_positions_and_the_step_at_a_position():
    assert [program.position(TREE, step_id) for step_id in ["a", "b", "c", "d", "e"]] == [0, 2, 3, 5, 6]
    assert program.position(TREE, "nope") is None
    assert program.step_at(TREE, 4)["id"] == "e"  # the jump counts as the step after it
    assert program.step_at(TREE, 5)["id"] == "d"
    assert program.step_at(TREE, 7) is None and program.step_at(TREE, -1) is None


def test_numbers_are_the_editors():
    # The editor, a test run's timeline and the draft's problems all number steps this way.
    tree = [s("a"), fork("if", yes=[s("b"), fork("inner", no=[s("x")])], no=[s("d")]), s("e")]
    assert program.numbers(tree) == {
        "a": "1",
        "if": "2",
        "b": "2.yes.1",
        "inner": "2.yes.2",
        "x": "2.yes.2.no.1",
        "d": "2.no.1",
        "e": "3",
    }

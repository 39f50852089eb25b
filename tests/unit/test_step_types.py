"""The step-type contract (actions/base.py) and the engine's one decision of an enrolment's next move."""

from pathlib import Path
from types import SimpleNamespace

import pytest

from webapp.workflows import actions, engine, program
from webapp.workflows.actions.base import StepType

TEMPLATES = Path(__file__).resolve().parents[2] / "templates" / "workflows" / "steps"


@pytest.mark.parametrize("type_name", list(actions.all_types()))
def test_every_step_type_states_the_contract_and_has_its_card_and_history(type_name):
    step_type = actions.get(type_name)
    assert isinstance(step_type, StepType) and type_name == step_type.TYPE
    assert step_type.LABEL and step_type.CATEGORY
    assert type(step_type).run is not StepType.run  # the one hook without a default
    assert (TEMPLATES / f"{type_name}.html").is_file()
    assert (TEMPLATES / f"{type_name}_history.html").is_file()


def test_the_defaults_of_a_step_type_that_overrides_nothing():
    class Bare(StepType):
        TYPE = "bare"
        DEFAULTS = {"items": [1]}

    bare = Bare()
    config = bare.new_config()
    assert config == {"items": [1]} and config["items"] is not Bare.DEFAULTS["items"]
    assert bare.validate({}, []) == {} and bare.custom_values({}) == [] and bare.describe({}) == ""
    assert bare.poll(None, {}) is True and bare.expedite([{}, {}]) == [None, None]
    assert bare.reveal({}) is None and bare.secret_hint({}) == "" and len(bare.new_secret()) >= 32
    assert not bare.EXTERNAL and not bare.EXPEDITES and bare.FORM is None and bare.OUTPUTS == {}
    with pytest.raises(NotImplementedError):
        bare.run(None)


def step(step_id: str, type_name: str, **extra) -> dict:
    return {"id": step_id, "type": type_name, "key": "", "config": {}, **extra}


def plan_at(steps, index, runs=None, **flags):
    enrolment = SimpleNamespace(step_index=index)
    return enrolment, engine.next_move(enrolment, program.flatten(steps), runs or {}, **flags)


def test_next_move_runs_expedites_polls_advances_and_finishes():
    steps = [step("l", "generate_link"), step("m", "send_email"), step("w", "wait")]
    assert plan_at(steps, 0, batch=True)[1].move is engine.Move.RUN
    assert plan_at(steps, 1, batch=True)[1].move is engine.Move.EXPEDITE
    assert plan_at(steps, 1, batch=False, expedite=False)[1].move is engine.Move.RUN  # no claim goes on
    waiting = {"m": SimpleNamespace(status="waiting", output={})}
    assert plan_at(steps, 1, waiting, batch=True)[1].move is engine.Move.POLL
    done = {"l": SimpleNamespace(status="done", output={})}
    plan = plan_at(steps, 0, done, batch=False)[1]
    assert plan.move is engine.Move.ADVANCE and plan.run is done["l"] and plan.step["id"] == "l"
    assert plan_at(steps, 3, batch=True)[1].move is engine.Move.FINISH


def test_next_move_keeps_external_and_unknown_steps_out_of_a_batch():
    steps = [step("h", "webhook"), step("x", "no_such_type")]
    assert plan_at(steps, 0, batch=True)[1].move is engine.Move.ALONE
    assert plan_at(steps, 0, batch=False)[1].move is engine.Move.RUN
    assert plan_at(steps, 1, batch=True)[1].move is engine.Move.ALONE
    assert plan_at(steps, 1, batch=False)[1].move is engine.Move.UNKNOWN


def test_next_move_follows_the_jump_over_a_branch_not_taken():
    steps = [step("i", "if_else", branches={"yes": [step("a", "add_tag")], "no": [step("r", "remove_tag")]})]
    code = program.flatten(steps)
    jump = next(i for i, instruction in enumerate(code) if instruction.step is None)
    enrolment, plan = plan_at(steps, jump, batch=True)
    assert plan.move is engine.Move.FINISH and enrolment.step_index == len(code)

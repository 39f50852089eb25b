"""The editor with if/else branches: steps added, saved, moved and deleted inside a branch; the Wait,
If/else and Goal cards and their messages; unsaved cards kept across structural changes; the later
cards' pickers refreshed after a save."""

import re
from datetime import UTC, datetime

import pytest

from tests.helpers import reload
from webapp.workflows import editing


def card(html: str, step_id: str) -> str:
    """The HTML of one step card."""
    start = html.index(f'id="step-{step_id}"')
    return html[start : html.index("</article>", start)]


def save(client, workflow, step, headers=None, action=None, **fields):
    data = {f"s{step['id']}-{name}": value for name, value in fields.items()}
    if action:
        data["action"] = action  # a button of the card (not one of its fields)
    return client.post(f"/workflows/{workflow.id}/steps/{step['id']}", data=data, headers=headers or {})


@pytest.fixture
def branched(workflow, make_calendar):
    """link, if/else (yes: email, wait; no: email)."""
    link = editing.add_step(workflow, "generate_link")
    calendar = str(make_calendar().id)
    fork = editing.add_step(workflow, "if_else")
    yes_email = editing.add_step(workflow, "send_email", parent=fork["id"], branch="yes")
    yes_wait = editing.add_step(workflow, "wait", parent=fork["id"], branch="yes")
    no_email = editing.add_step(workflow, "send_email", parent=fork["id"], branch="no")
    return {
        "calendar": calendar,
        "link": link,
        "fork": fork,
        "yes_email": yes_email,
        "yes_wait": yes_wait,
        "no_email": no_email,
    }


def branch(workflow, name):
    return [s["id"] for s in reload(workflow).steps[1]["branches"][name]]


def test_the_editor_shows_the_branches_nested_and_numbered(login, workflow, branched):
    html = login.get(f"/workflows/{workflow.id}").text
    assert re.findall(r"Step ([0-9a-z.]+)", html) == ["1", "2", "2.yes.1", "2.yes.2", "2.no.1"]
    assert html.count('class="branch branch-yes"') == 1 and ">If yes <small" in html and ">Else <small" in html
    # The branch lists are inside the if/else's list item, below (outside) its card.
    fork_card = card(html, branched["fork"]["id"])
    assert "branch-yes" not in fork_card
    for label in ("Add a step to “If yes” of step 2 (position 3)", "Add a step to “Else” of step 2 (position 2)"):
        assert f'aria-label="{label}"' in html
    # The same step types are offered in a branch as at the top.
    pickers = re.findall(r'<form method="post" action="/workflows/\d+/steps"(.*?)</form>', html, re.S)
    assert len(pickers) == 8 and len({tuple(re.findall(r'name="type" value="(\w+)"', p)) for p in pickers}) == 1


def test_add_into_a_branch_with_and_without_javascript(login, workflow, branched, hx):
    url = f"/workflows/{workflow.id}/steps"
    fork = branched["fork"]["id"]
    response = login.post(url, data={"type": "goal", "parent": fork, "branch": "no", "at": 0}, headers=hx)
    assert response.status_code == 200 and "<html" not in response.text
    [new, old] = branch(workflow, "no")
    assert old == branched["no_email"]["id"]
    assert "data-focus-first" in card(response.text, new) and "Step 2.no.1" in card(response.text, new)
    assert login.post(url, data={"type": "add_tag", "parent": fork, "branch": "yes"}).status_code == 303
    assert len(branch(workflow, "yes")) == 3
    assert login.post(url, data={"type": "add_tag", "parent": fork, "branch": "maybe"}).status_code == 400
    assert login.post(url, data={"type": "add_tag", "parent": branched["link"]["id"]}).status_code == 400


def test_move_and_delete_inside_a_branch(login, workflow, branched, hx):
    yes_email, yes_wait = branched["yes_email"]["id"], branched["yes_wait"]["id"]
    response = login.post(f"/workflows/{workflow.id}/steps/{yes_email}/move", data={"direction": "down"}, headers=hx)
    assert response.status_code == 200 and branch(workflow, "yes") == [yes_wait, yes_email]
    # The keyboard stays on the moved card: now last in its branch, so its "up" button.
    assert re.search(r'aria-label="Move step 2\.yes\.2 up"[^>]*data-focus-me', card(response.text, yes_email))
    login.post(f"/workflows/{workflow.id}/steps/{yes_email}/move", data={"direction": "down"}, headers=hx)
    assert branch(workflow, "yes") == [yes_wait, yes_email]  # the end of its list: it stays in its branch
    confirm = login.get(f"/workflows/{workflow.id}/steps/{yes_wait}/delete", headers=hx).text
    assert "Yes, delete step 2.yes.1" in confirm
    assert login.post(f"/workflows/{workflow.id}/steps/{yes_wait}/delete", headers=hx).status_code == 200
    assert branch(workflow, "yes") == [yes_email]
    # Deleting the if/else removes its branches.
    login.post(f"/workflows/{workflow.id}/steps/{branched['fork']['id']}/delete")
    assert [s["type"] for s in reload(workflow).steps] == ["generate_link"]


def save_link_step(login, workflow, branched):
    """Save the workflow's link step with the key later steps use: booking_link."""
    save(
        login,
        workflow,
        branched["link"],
        key="booking_link",
        calendar_id=branched["calendar"],
        expires_unit="days",
        existing="reuse",
    )


def test_a_nested_card_saves_and_offers_the_values_of_the_steps_before_it(login, workflow, branched, hx):
    save_link_step(login, workflow, branched)
    html = login.get(f"/workflows/{workflow.id}").text
    assert "steps.booking_link.url" in card(html, branched["no_email"]["id"])  # the link is before the if/else
    step = branched["yes_email"]
    response = save(login, workflow, step, hx, subject="Hi", body="Book: {{ steps.booking_link.url }}")
    assert response.status_code == 200 and "badge-saved" in card(response.text, step["id"])
    assert reload(workflow).steps[1]["branches"]["yes"][0]["config"]["subject"] == "Hi"
    response = save(login, workflow, step, hx, subject="", body="x")
    assert response.status_code == 422 and "The email needs a subject." in card(response.text, step["id"])


def test_a_step_in_one_branch_is_not_offered_to_the_other(login, workflow, hx):
    fork = editing.add_step(workflow, "if_else")
    editing.add_step(workflow, "generate_link", parent=fork["id"], branch="yes")
    email = editing.add_step(workflow, "send_email", parent=fork["id"], branch="no")
    wait = editing.add_step(workflow, "wait", parent=fork["id"], branch="no")
    html = login.get(f"/workflows/{workflow.id}").text
    assert "steps.booking_link" not in card(html, email["id"])
    assert 'value="booking_link"' not in card(html, wait["id"])


def test_wait_card_fields_and_messages(login, workflow, branched, hx):
    step = branched["yes_wait"]
    html = card(login.get(f"/workflows/{workflow.id}").text, step["id"])
    for group in ("duration before_booking", "until", "before_booking until_booked", "until_booked"):
        assert f'data-show-for="{group}"' in html
    assert "data-mode" in html and 'type="datetime-local"' in html
    assert '<option value="Europe/Paris" data-abbr="CET CEST">Paris — France' in html
    fields = dict(mode="until", amount="1", unit="days", at="2001-01-01T09:00", timezone="", link_step="", max_days="2")
    response = save(login, workflow, step, hx, **fields)
    html = card(response.text, step["id"])
    assert response.status_code == 422
    assert "That date and time has passed." not in html  # no zone: the zone is what is asked first
    assert "Choose the time zone of that date." in html and 'aria-invalid="true"' in html
    response = save(login, workflow, step, hx, **{**fields, "timezone": "Europe/Paris"})
    assert "That date and time has passed." in card(response.text, step["id"])
    assert 'value="Europe/Paris" selected' in card(response.text, step["id"])  # what was typed stays
    response = save(login, workflow, step, hx, **{**fields, "mode": "until_booked", "max_days": "0"})
    html = card(response.text, step["id"])
    assert "Choose the link step this one follows." in html and "A whole number of days from 1 to 365." in html
    save_link_step(login, workflow, branched)
    response = save(login, workflow, step, hx, **{**fields, "mode": "until_booked", "link_step": "booking_link"})
    assert response.status_code == 200
    saved = reload(workflow).steps[1]["branches"]["yes"][1]["config"]
    assert saved["mode"] == "until_booked" and saved["link_step"] == "booking_link" and saved["max_days"] == 2
    assert "Wait until “booking_link” is booked, at most 2 days" in card(response.text, step["id"])


def test_wait_card_takes_a_typed_city_and_refuses_what_is_no_zone(login, workflow, branched, hx):
    step = branched["yes_wait"]
    at = f"{datetime.now(UTC).year + 2}-03-01T09:00"  # ahead on any day the suite runs
    fields = dict(mode="until", amount="1", unit="days", at=at, link_step="", max_days="2")
    response = save(login, workflow, step, hx, **fields, timezone="Mars/Olympus")
    html = card(response.text, step["id"])
    assert response.status_code == 422 and "“Mars/Olympus” is not a time zone we know." in html
    assert '<option value="Mars/Olympus" selected>Mars/Olympus (not a time zone)</option>' in html  # kept
    response = save(login, workflow, step, hx, **fields, timezone="New York")
    assert response.status_code == 200
    saved = reload(workflow).steps[1]["branches"]["yes"][1]["config"]
    assert saved["timezone"] == "America/New_York"
    assert 'value="America/New_York" selected' in card(response.text, step["id"])


def test_goal_card_asks_for_an_earlier_link_step(login, workflow, hx, make_calendar):
    goal = editing.add_step(workflow, "goal")
    response = save(login, workflow, goal, hx, link_step="")
    assert response.status_code == 422
    assert "Add a Generate One-Time Booking Link step before this one" in card(response.text, goal["id"])
    link = editing.add_step(workflow, "generate_link", at=0)
    save(login, workflow, link, key="intro", calendar_id=str(make_calendar().id), expires_unit="days", existing="reuse")
    response = save(login, workflow, goal, hx, link_step="intro")
    assert response.status_code == 200 and reload(workflow).steps[1]["config"] == {"link_step": "intro"}
    assert "Goal: the link from “intro” is booked" in card(response.text, goal["id"])


def conditions(**rows):
    """Form fields of conditions: conditions(c0={"kind": "has_tag", "tag": "vip"}) -> {"conditions-0-kind": …}."""
    return {f"conditions-{i[1:]}-{k}": v for i, row in rows.items() for k, v in row.items()}


def test_if_else_conditions_are_added_and_removed_without_losing_what_was_typed(login, workflow, branched, hx):
    fork = branched["fork"]
    before = reload(workflow).steps[1]["config"]
    typed = conditions(
        c0={"kind": "has_tag", "tag": "VIP"}, c1={"kind": "field", "field": "email", "op": "contains", "value": "@acme"}
    )
    response = save(login, workflow, fork, hx, match="any", action="add-condition", **typed)
    html = card(response.text, fork["id"])
    assert response.status_code == 200 and "step-card is-dirty" in html and "Condition 3" in html
    assert 'value="VIP"' in html and 'value="@acme"' in html and "Remove condition 3" in html
    assert reload(workflow).steps[1]["config"] == before  # nothing saved
    response = save(login, workflow, fork, hx, match="any", action="remove-condition-0", **typed)
    html = card(response.text, fork["id"])
    assert "VIP" not in html and 'value="@acme"' in html and "Condition 2" not in html
    # Without JavaScript the same buttons answer with the page.
    page = save(login, workflow, fork, match="any", action="add-condition", **typed)
    assert page.status_code == 200 and "<html" in page.text and "Condition 3" in card(page.text, fork["id"])
    # At most ten.
    many = conditions(**{f"c{i}": {"kind": "has_tag", "tag": f"t{i}"} for i in range(10)})
    html = card(save(login, workflow, fork, hx, match="all", action="add-condition", **many).text, fork["id"])
    assert "Condition 10" in html and "Condition 11" not in html and "+ Add a condition" not in html


def test_if_else_messages_are_beside_their_condition(login, workflow, branched, hx):
    fork = branched["fork"]
    typed = conditions(c0={"kind": "has_tag", "tag": "vip"}, c1={"kind": "link_booked", "link_step": ""})
    response = save(login, workflow, fork, hx, match="all", **typed)
    html = card(response.text, fork["id"])
    assert response.status_code == 422
    assert re.search(r'id="s\w+-conditions-1-error">Choose the link step this one follows.</p>', html)
    assert "conditions-0-error" not in html
    save_link_step(login, workflow, branched)
    typed = conditions(c0={"kind": "has_tag", "tag": " VIP "}, c1={"kind": "link_booked", "link_step": "booking_link"})
    response = save(login, workflow, fork, hx, match="all", **typed)
    assert response.status_code == 200
    assert reload(workflow).steps[1]["config"] == {
        "match": "all",
        "conditions": [{"kind": "has_tag", "tag": "vip"}, {"kind": "link_booked", "link_step": "booking_link"}],
    }
    assert "If has the tag “vip” and the link from “booking_link” was booked" in card(response.text, fork["id"])


def test_a_structural_change_keeps_the_unsaved_cards(login, workflow, branched, hx):
    email = branched["no_email"]
    typed = {f"s{email['id']}-subject": "Typed, not saved", f"s{email['id']}-body": "Draft", "sender_name": "Ann"}
    response = login.post(f"/workflows/{workflow.id}/steps", data={"type": "add_tag", **typed}, headers=hx)
    html = card(response.text, email["id"])
    assert 'value="Typed, not saved"' in html and "step-card is-dirty" in html
    assert 'value="Ann"' in response.text and "settings-card is-dirty" in response.text
    assert reload(workflow).steps[1]["branches"]["no"][0]["config"]["subject"] == ""  # still not saved
    # A card not sent along comes back as saved, not marked.
    assert "step-card is-dirty" not in card(response.text, branched["yes_email"]["id"])
    # The other structural changes carry them too.
    move = login.post(
        f"/workflows/{workflow.id}/steps/{branched['link']['id']}/move", data={"direction": "down", **typed}, headers=hx
    )
    assert 'value="Typed, not saved"' in card(move.text, email["id"])
    ask = login.get(f"/workflows/{workflow.id}/steps/{email['id']}/delete", query_string=typed, headers=hx)
    assert 'value="Typed, not saved"' in card(ask.text, email["id"]) and "Yes, delete" in ask.text
    keep = login.get(f"/workflows/{workflow.id}/steps/{email['id']}", query_string=typed, headers=hx)
    assert 'value="Typed, not saved"' in card(keep.text, email["id"]) and "Yes, delete" not in keep.text
    published = login.post(f"/workflows/{workflow.id}/publish", data=typed, headers=hx)
    assert published.status_code == 422 and 'value="Typed, not saved"' in card(published.text, email["id"])


def test_saving_a_link_step_refreshes_the_later_pickers(login, workflow, branched, hx):
    response = save(
        login,
        workflow,
        branched["link"],
        hx,
        key="intro",
        calendar_id=branched["calendar"],
        expires_unit="days",
        existing="reuse",
    )
    assert response.status_code == 200
    parts = response.text.split('hx-swap-oob="innerHTML"')  # each out-of-band piece starts one part
    for later in ("yes_email", "no_email"):
        [piece] = [
            p for p in parts[1:] if parts[parts.index(p) - 1].endswith(f'id="cv-values-{branched[later]["id"]}" ')
        ]
        assert "steps.intro.url" in piece and "steps.booking_link" not in piece
    wait = branched["yes_wait"]["id"]
    select = re.search(rf'<select hx-swap-oob="innerHTML" id="s{wait}-link_step".*?</select>', response.text, re.S)
    assert select and 'value="intro"' in select[0]
    # A save that fails refreshes nothing.
    response = save(
        login,
        workflow,
        branched["link"],
        hx,
        key="Bad Key",
        calendar_id=branched["calendar"],
        expires_unit="days",
        existing="reuse",
    )
    assert response.status_code == 422 and 'hx-swap-oob="innerHTML"' not in response.text


def test_a_new_if_else_wait_or_goal_follows_the_only_link_step_above(login, workflow):
    link = editing.add_step(workflow, "generate_link")
    fork = editing.add_step(workflow, "if_else")
    wait = editing.add_step(workflow, "wait", parent=fork["id"], branch="no")
    goal = editing.add_step(workflow, "goal")
    assert fork["config"]["conditions"] == [{"kind": "link_booked", "link_step": link["key"]}]
    assert wait["config"]["link_step"] == link["key"] and goal["config"]["link_step"] == link["key"]
    html = login.get(f"/workflows/{workflow.id}").text
    assert f"If the link from “{link['key']}” was booked" in card(html, fork["id"])
    assert f'<option selected value="{link["key"]}">' in card(html, fork["id"])


def test_with_no_or_two_link_steps_above_nothing_is_preselected_and_the_summary_says_so(login, workflow):
    first = editing.add_step(workflow, "if_else")  # no link step above
    assert first["config"]["conditions"][0]["link_step"] == ""
    editing.add_step(workflow, "generate_link")
    editing.add_step(workflow, "generate_link")
    second = editing.add_step(workflow, "if_else")  # two above: the admin chooses
    assert second["config"]["conditions"][0]["link_step"] == ""
    html = login.get(f"/workflows/{workflow.id}").text
    for step in (first, second):
        summary = card(html, step["id"])
        assert "If the booking link was booked (choose a link step)" in summary
        assert "“”" not in summary


def test_an_added_condition_preselects_the_only_link_step(login, workflow):
    link = editing.add_step(workflow, "generate_link")
    fork = editing.add_step(workflow, "if_else")
    response = save(
        login,
        workflow,
        fork,
        headers={"HX-Request": "true"},
        action="add-condition",
        match="all",
        **{"conditions-0-kind": "has_tag", "conditions-0-tag": "vip"},
    )
    second = card(response.text, fork["id"]).split("Condition 2", 1)[1]
    assert f'<option selected value="{link["key"]}">' in second


def test_a_new_link_step_books_on_the_only_calendar(workflow, make_calendar):
    only = make_calendar(name="Only one")
    assert editing.add_step(workflow, "generate_link")["config"]["calendar_id"] == only.id
    make_calendar(name="Another")
    assert editing.add_step(workflow, "generate_link")["config"]["calendar_id"] is None  # two: the admin chooses


def test_a_template_preselects_the_only_calendar(login, make_calendar):
    make_calendar(name="Only one", slug="only-one")
    html = login.get("/workflows/templates").text
    assert '<option selected value="only-one">Only one</option>' in html

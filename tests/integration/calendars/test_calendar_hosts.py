"""The calendar editor's "Hosts" section: the mode, the hosts and their order and priority; the list shows them."""

import re

from sqlalchemy import select

from tests.helpers import calendar_form
from webapp.calendars.models import Calendar
from webapp.extensions import db
from webapp.hosts.models import Host


def admin_host(admin) -> Host:
    return db.session.scalar(select(Host).where(Host.user_id == admin.id))


def hosts_form(host_ids, assignment="single", order=None, **extra):
    data = calendar_form(hosts_section="1", assignment=assignment, **extra)
    data["host_ids"] = [str(i) for i in host_ids]
    if order is not None:
        data["host_order"] = [str(i) for i in order]
    return data


def chosen_mode(page: str) -> str:
    return re.search(r'<input checked id="assignment-\d" name="assignment" type="radio" value="(\w+)">', page)[1]


def only_calendar() -> Calendar:
    return db.session.scalars(select(Calendar)).one()


def test_a_new_calendar_starts_single_with_the_signed_in_admins_host(login, admin, make_host):
    make_host(name="Zed")
    page = login.get("/calendars/new").text
    mine = admin_host(admin)
    assert f'name="host_ids" value="{mine.id}" checked' in page
    assert page.count('name="host_ids"') == 2 and page.count('" checked>') == 1  # only the admin's host
    assert chosen_mode(page) == "single"


def test_create_without_the_hosts_section_gets_the_admins_host(login, admin):
    login.post("/calendars/new", data=calendar_form())
    calendar = only_calendar()
    assert calendar.assignment == "single" and [h.id for h in calendar.hosts] == [admin_host(admin).id]


def test_round_robin_of_two_hosts_with_order_and_priority(login, admin, make_host):
    sam, kim = make_host(name="Sam"), make_host(name="Kim")
    data = hosts_form([sam.id, kim.id], "round_robin", order=[kim.id, sam.id])
    data[f"priority-{sam.id}"] = "1"
    data[f"priority-{kim.id}"] = "-1"
    assert login.post("/calendars/new", data=data).status_code == 303
    calendar = only_calendar()
    assert calendar.assignment == "round_robin"
    assert [(link.host_id, link.priority) for link in calendar.host_links] == [(kim.id, -1), (sam.id, 1)]
    listing = login.get("/calendars/").text
    assert "Kim" in listing and "Sam" in listing and "Round robin" in listing
    page = login.get(f"/calendars/{calendar.id}").text
    assert chosen_mode(page) == "round_robin"
    assert page.index(f'name="host_ids" value="{kim.id}"') < page.index(f'name="host_ids" value="{sam.id}"')


def test_single_needs_exactly_one_host_and_keeps_what_was_typed(login, admin, make_host):
    sam = make_host(name="Sam")
    response = login.post("/calendars/new", data=hosts_form([sam.id, admin_host(admin).id], name="Typed name"))
    assert response.status_code == 422
    assert "A single-host calendar needs exactly one host." in response.text
    assert 'value="Typed name"' in response.text
    assert f'name="host_ids" value="{sam.id}" checked' in response.text
    response = login.post("/calendars/new", data=hosts_form([]))
    assert response.status_code == 422 and "Choose the calendar&#39;s host." in response.text
    response = login.post("/calendars/new", data=hosts_form([], "collective"))
    assert response.status_code == 422 and "Choose at least one host." in response.text
    assert db.session.scalar(select(Calendar.id)) is None


def test_collective_with_one_host_is_allowed(login, make_host):
    sam = make_host(name="Sam")
    assert login.post("/calendars/new", data=hosts_form([sam.id], "collective")).status_code == 303
    assert only_calendar().assignment == "collective"


def test_move_a_host_up_keeps_the_form(login, admin, make_host, hx):
    sam = make_host(name="Sam")
    mine = admin_host(admin)
    data = hosts_form([mine.id], order=[mine.id, sam.id], name="Still here", action=f"host-up-{sam.id}")
    response = login.post("/calendars/new", data=data, headers=hx)
    assert response.status_code == 200
    page = response.text
    assert page.index(f'name="host_ids" value="{sam.id}"') < page.index(f'name="host_ids" value="{mine.id}" checked')
    assert 'value="Still here"' in response.text
    assert db.session.scalar(select(Calendar.id)) is None


def test_edit_changes_hosts_and_an_inactive_host_is_not_offered(login, admin, make_host, make_calendar):
    sam, gone = make_host(name="Sam"), make_host(name="Gone")
    gone.is_active = False
    db.session.commit()
    calendar = make_calendar()
    page = login.get(f"/calendars/{calendar.id}").text
    assert "Sam" in page and "Gone" not in page
    response = login.post(f"/calendars/{calendar.id}", data=hosts_form([sam.id], "single"))
    assert response.status_code == 303
    db.session.refresh(calendar)
    assert [h.id for h in calendar.hosts] == [sam.id]
    response = login.post(f"/calendars/{calendar.id}", data=hosts_form([gone.id], "single"))
    # An inactive host is not offered: what names one is refused as if nothing were ticked.
    assert response.status_code == 422 and "Choose the calendar&#39;s host." in response.text


def test_an_edit_without_the_hosts_section_leaves_hosts_alone(login, make_host, make_calendar):
    sam = make_host(name="Sam")
    calendar = make_calendar()
    from webapp.calendars import services

    services.set_hosts(calendar, [sam.id], "collective")
    db.session.commit()
    assert login.post(f"/calendars/{calendar.id}", data=calendar_form()).status_code == 303
    db.session.refresh(calendar)
    assert calendar.assignment == "collective" and [h.id for h in calendar.hosts] == [sam.id]


def test_a_calendar_without_hosts_still_lists(login, make_calendar):
    make_calendar(name="Hostless")
    page = login.get("/calendars/").text
    assert "Hostless" in page and "No host" in page

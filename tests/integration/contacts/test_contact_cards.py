"""The contact pages' cards come from the features above contacts, registered once per process."""

import pytest

from tests.conftest import make_app
from webapp.booking import admin as booking_admin
from webapp.contacts import views as contact_views
from webapp.workflows import enrolment_views


def test_each_feature_registers_its_values_once_however_many_apps_are_built(app, tmp_path):
    make_app(tmp_path / "second")
    assert contact_views._page_values.count(booking_admin.contact_page_values) == 1
    assert contact_views._page_values.count(enrolment_views.contact_page_values) == 1
    assert contact_views._list_values.count(enrolment_views.contact_list_values) == 1


def test_two_features_giving_the_same_key_is_refused():
    with pytest.raises(KeyError, match="links"):
        contact_views._merged([{"links": 1, "now": 2}, {"links": 3}])

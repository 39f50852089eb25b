"""Named signals: what contacts and booking announce, so the features above them (workflows) react
without being imported by them.

Each signal is sent by the service that made the change, once per change, after the change is in
the session and before it commits. Receivers run synchronously, in the sender's transaction: what a
receiver adds to the session (an enrolment) commits with the sender's change, or not at all. So a
receiver must not commit or roll back; an exception it raises reaches the sender, whose change is
then never committed (the request or task that called it rolls back). A receiver may return what it
made (the triggers return the new enrolments); senders may log that, never depend on it.

signal                      sender            keyword arguments
--------------------------  ----------------  ---------------------------------------------------------
contact_created             the Contact       none (the contact has its id)
tag_added                   the Contact       tag: the normalised name; via_workflows: ids of the
                                              workflows whose steps added it (a tuple, often empty)
contacts_batch              None              contact_ids: list of ids, before many contacts are
                                              created or tagged in one transaction (the CSV import)
link_issued                 the OneTimeLink   none; sent when a new link is added to the session (it may have
                                              no id yet: issue(flush=False) leaves the INSERT to the caller)
link_opened                 the OneTimeLink   none; sent at the first opening only
link_expired                the OneTimeLink   none; sent once, when an unused, unrevoked link's expiry passed
link_revoked                the OneTimeLink   none; sent when an admin revokes an unused link
booking_made                the Booking       link_id: the one-time link it was booked with
booking_rescheduled         the Booking       none
booking_cancelled           the Booking       none
admin_created               the User          none; sent when an admin is added (hosts makes them a host)
booking_attendance_marked   the Booking       attendance: "showed" or "no_show" (sent when it changes to
                                              one of them; clearing it sends nothing)
mail_sent                   the OutboxMessage none; the SMTP server accepted it (sent before its "sent" commits)
mail_retried                the OutboxMessage none; an attempt failed and another is scheduled
mail_failed                 the OutboxMessage none; the last attempt failed, or the server refused for good

Receivers are connected at start-up by the feature that owns them (workflows.init_app, hosts.init_app,
booking.views.init_app: the copies of bookings in hosts' calendars; metrics.init_app counts them all
when their transaction commits).
"""

from blinker import Namespace

_signals = Namespace()

contact_created = _signals.signal("contact-created", doc="A contact was added (sender: the Contact).")
tag_added = _signals.signal(
    "tag-added", doc="A tag was attached to a contact (sender: the Contact; tag, via_workflows)."
)
contacts_batch = _signals.signal(
    "contacts-batch", doc="Many contacts are about to be created or tagged in one transaction (contact_ids)."
)
link_issued = _signals.signal("link-issued", doc="A one-time link was issued (sender: the link).")
link_opened = _signals.signal("link-opened", doc="A one-time link was opened for the first time (sender: the link).")
link_expired = _signals.signal("link-expired", doc="A one-time link's expiry passed unused (sender: the link).")
link_revoked = _signals.signal("link-revoked", doc="An unused one-time link was revoked (sender: the link).")
booking_made = _signals.signal(
    "booking-made", doc="A booking was made with a one-time link (sender: the Booking; link_id)."
)
booking_rescheduled = _signals.signal(
    "booking-rescheduled", doc="A booking moved to another slot (sender: the Booking)."
)
booking_cancelled = _signals.signal("booking-cancelled", doc="A booking was cancelled (sender: the Booking).")
booking_attendance_marked = _signals.signal(
    "booking-attendance-marked", doc="A past booking was marked showed or no_show (sender: the Booking; attendance)."
)
admin_created = _signals.signal("admin-created", doc="An admin was added (sender: the User).")
mail_sent = _signals.signal("mail-sent", doc="The SMTP server accepted a message (sender: the OutboxMessage).")
mail_retried = _signals.signal(
    "mail-retried", doc="A message's attempt failed; another is scheduled (sender: the OutboxMessage)."
)
mail_failed = _signals.signal("mail-failed", doc="A message failed for good (sender: the OutboxMessage).")

"""What a URL or a query string may carry: ids, page numbers and days, each checked for range.

Every number and date a request carries is parsed here, so none reaches the database or the slot
engine out of range: an id larger than the database's integer overflows its driver, and a day near
year 9999 overflows date arithmetic. Out of range is simply "no such thing" (404 for a path id) or
a clear message, never a 500.
"""

from datetime import date, datetime

from werkzeug.exceptions import BadRequest
from werkzeug.routing import IntegerConverter

from webapp.calendars.availability import FIRST_DAY, LAST_DAY
from webapp.extensions import MAX_ID  # the largest id an INTEGER primary key can hold

# Far past the end of any list; a page past the end shows the last one (see the list services).
MAX_PAGE = 1_000_000

DAY_RANGE_MESSAGE = f"Pick a day from {FIRST_DAY.isoformat()} to {LAST_DAY.isoformat()}."
MONTH_RANGE_MESSAGE = f"Pick a month from {FIRST_DAY:%Y-%m} to {LAST_DAY:%Y-%m}."


class IdConverter(IntegerConverter):
    """`<int:…>` in every route: 1 to MAX_ID, so a larger number is a 404 like any unknown id."""

    def __init__(self, map, fixed_digits=0, min=None, max=MAX_ID, signed=False):  # werkzeug's argument names
        super().__init__(map, fixed_digits=fixed_digits, min=min, max=max, signed=signed)


def db_id(text: str) -> int:
    """A query or form id (for `request.args.get(name, type=db_id)`); ValueError when no row can have it."""
    # Length first: Python refuses to read an int of more than 4,300 digits, and no id has 11.
    value = int(text) if text.isascii() and text.isdigit() and len(text) <= 10 else 0
    if not 1 <= value <= MAX_ID:
        raise ValueError(f"{text!r} is not an id")
    return value


def page_number(text: str) -> int:
    """?page= as 1..MAX_PAGE (for `type=`): a larger number is past the end; ValueError for no number."""
    text = text.strip()
    if not (text.isascii() and text.isdigit()):
        raise ValueError(f"{text!r} is not a page number")
    digits = text.lstrip("0") or "0"
    # Compare lengths before converting: Python refuses to read an int of more than 4,300 digits.
    if len(digits) > len(str(MAX_PAGE)):
        return MAX_PAGE
    return max(1, min(int(digits), MAX_PAGE))


class OutOfRange(ValueError):
    """A well-formed date outside the days OneSlot works with; str() is the message to show."""


class BadParam(BadRequest):
    """A 400 whose description is shown as it is: it says which value of the address was wrong."""


def day(text: str) -> date:
    """'2026-12-01' -> date; ValueError when malformed, OutOfRange when outside FIRST_DAY..LAST_DAY."""
    value = date.fromisoformat(text)
    if not FIRST_DAY <= value <= LAST_DAY:
        raise OutOfRange(DAY_RANGE_MESSAGE)
    return value


def month(text: str) -> date:
    """'2026-12' -> its first day; ValueError when malformed, OutOfRange when outside the supported years."""
    value = datetime.strptime(text, "%Y-%m").date()
    if not FIRST_DAY <= value <= LAST_DAY:
        raise OutOfRange(MONTH_RANGE_MESSAGE)
    return value


def in_range(moment: datetime) -> bool:
    """True when an instant's day is one the slot engine answers for."""
    return FIRST_DAY <= moment.date() <= LAST_DAY


def register(app) -> None:
    """Make `<int:…>` the bounded IdConverter for every route registered after this."""
    app.url_map.converters["int"] = IdConverter

"""Creating admins and changing passwords, shared by the pages and the CLI."""

from sqlalchemy import func, select

from webapp.audit import audit
from webapp.auth.models import MIN_PASSWORD_LENGTH, User
from webapp.extensions import db
from webapp.types import utcnow


class AdminError(ValueError):
    """An admin account that cannot be created as asked."""


def find_by_email(email: str) -> User | None:
    """The admin with this email, whatever its case."""
    return db.session.scalar(select(User).where(func.lower(User.email) == email.strip().lower()))


def password_problem(password: str) -> str | None:
    """Why a password is refused, or None."""
    if len(password) < MIN_PASSWORD_LENGTH:
        return f"Use at least {MIN_PASSWORD_LENGTH} characters."
    return None


def create_admin(email: str, password: str) -> User:
    """Add an admin; refuses a duplicate email or a weak password."""
    email = email.strip().lower()
    if "@" not in email:
        raise AdminError(f"{email!r} is not an email address.")
    if find_by_email(email):
        raise AdminError(f"An admin with the email {email} already exists.")
    if problem := password_problem(password):
        raise AdminError(problem)
    user = User(email=email)
    user.set_password(password)
    db.session.add(user)
    db.session.commit()
    audit("admin.create", user_id=user.id)
    return user


def record_login(user: User) -> None:
    """Remember when the admin last signed in."""
    user.last_login_at = utcnow()
    db.session.commit()
    audit("admin.login", user_id=user.id)


def change_password(user: User, new_password: str) -> None:
    """Replace the admin's password."""
    user.set_password(new_password)
    db.session.commit()
    audit("admin.password_change", user_id=user.id)


def admin_count() -> int:
    """How many admins exist."""
    return db.session.scalar(select(func.count(User.id)))

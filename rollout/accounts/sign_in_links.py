"""Sign-in links: how an account without a password (made by an import) or with a forgotten one gets in.

An administrator issues a link; its owner opens it and chooses a password. The link is a signed,
timed token (itsdangerous, which Flask's own sessions use) naming the account and a fingerprint of
its password hash and session key. Nothing is stored: the link stops working when its time is up,
when a password is set (the hash changes) and when a newer link is issued (issuing rotates the
session key, which also ends the account's open sessions, as a reset should).
"""
from __future__ import annotations

import hashlib
from datetime import datetime, timedelta

from flask import current_app, url_for
from flask_babel import force_locale
from flask_babel import gettext as _
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from sqlalchemy import func, select

from rollout.accounts.models import User, new_token
from rollout.accounts.passwords import hash_password, password_problem
from rollout.audit.services import record_event
from rollout.errors import ServiceError
from rollout.extensions import db
from rollout.i18n import language_of
from rollout.timeutil import to_local, utcnow

#: How long a link works: long enough to reach people during a rollout week.
VALID_DAYS = 7
_SALT = "rollout.sign-in-link"


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=_SALT)


def _fingerprint(user: User) -> str:
    return hashlib.sha256(f"{user.password_hash}\n{user.session_token}".encode()).hexdigest()[:16]


def issue(user: User) -> tuple[str, datetime]:
    """A new sign-in link for ``user`` and when it stops working; older links stop now."""
    if not user.is_active_account:
        raise ServiceError(_("%(name)s is deactivated: activate the account first.", name=user.display_name))
    user.session_token = new_token()
    db.session.flush()
    token = _serializer().dumps([user.id, _fingerprint(user)])
    record_event("sign_in_link.issued", entity="users", entity_id=user.id)
    return url_for("accounts.sign_in_link", token=token, _external=True), utcnow() + timedelta(days=VALID_DAYS)


def email(user: User, url: str, valid_until: datetime) -> bool:
    """Queue the link to the user's email address when there is one and a mail server is set up."""
    if not user.email or not current_app.config.get("SMTP_HOST"):
        return False
    from rollout.notify.services import queue_message  # notify imports accounts
    with force_locale(language_of(user)):
        subject = _("Your Rollout Desk account")
        body = _("Hello %(name)s, open this link to choose your password and sign in as %(username)s. "
                 "It works until %(when)s.", name=user.display_name, username=user.username,
                 when=to_local(valid_until).strftime("%Y-%m-%d %H:%M"))
    db.session.add(queue_message("email", user.email, subject, body, url, user_id=user.id))
    return True


def _without_password():
    return (User.is_active_account.is_(True), User.password_hash.startswith("!"))


def count_without_password() -> int:
    return db.session.scalar(select(func.count()).select_from(User).where(*_without_password())) or 0


def issue_for_accounts_without_password() -> list[tuple[User, str, datetime]]:
    """Links for every active account that has no password yet (after a user import)."""
    users = db.session.scalars(select(User).where(*_without_password())
                               .options(db.joinedload(User.department)).order_by(User.username)).all()
    return [(user, *issue(user)) for user in users]


def user_of(token: str) -> User:
    """The account a link opens; ServiceError when it is unknown, expired, used or replaced."""
    try:
        user_id, fingerprint = _serializer().loads(token, max_age=VALID_DAYS * 24 * 3600)
    except SignatureExpired:
        raise ServiceError(_("This link has expired. Ask an administrator for a new one.")) from None
    except (BadSignature, ValueError, TypeError):
        raise ServiceError(_("This link is not valid. Check that it was copied whole.")) from None
    user = db.session.get(User, user_id) if isinstance(user_id, int) else None
    if user is None or not user.is_active_account or _fingerprint(user) != fingerprint:
        raise ServiceError(_("This link was used or replaced by a newer one. Ask an administrator for a new one."))
    return user


def set_password(user: User, password: str) -> None:
    """The link's owner chooses a password; the link and any other session end with it."""
    problem = password_problem(password, user.username)
    if problem:
        raise ServiceError(problem, "new_password")
    user.password_hash = hash_password(password)
    user.session_token = new_token()
    record_event("password.set_by_link", entity="users", entity_id=user.id, user=user)

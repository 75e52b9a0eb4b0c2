"""Departments (a tree), users and their roles."""
import secrets
from datetime import date, datetime

from flask_babel import lazy_gettext as _l
from flask_login import UserMixin
from sqlalchemy import Boolean, Date, DateTime, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from rollout.extensions import db
from rollout.timeutil import utcnow

ADMIN = "admin"
LEAD = "lead"
TRAINER = "trainer"
HEAD = "head"
STAFF = "staff"
#: Every role, most powerful first.
ROLES = (ADMIN, LEAD, TRAINER, HEAD, STAFF)

DEPARTMENT_KINDS = ("company", "department", "team")


def new_token() -> str:
    return secrets.token_urlsafe(32)


class Department(db.Model):
    __tablename__ = "departments"
    __table_args__ = (UniqueConstraint("parent_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    #: Display name, e.g. 销售部 or 销售一组.
    name: Mapped[str] = mapped_column(String(100))
    #: Short stable code (sales, marketing, finance, ...) that rules may refer to.
    code: Mapped[str | None] = mapped_column(String(40), unique=True)
    #: company → department → team
    kind: Mapped[str] = mapped_column(String(20), default="department")
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("departments.id"), index=True)
    #: Planned go-live of the new system for this department.
    go_live_on: Mapped[date | None] = mapped_column(Date)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)

    parent: Mapped["Department | None"] = relationship(remote_side=[id], back_populates="children")
    children: Mapped[list["Department"]] = relationship(back_populates="parent", order_by="Department.name")

    @property
    def access_department_id(self) -> int:
        """A department is in its own scope: its head may act on it (rollout/access.py)."""
        return self.id

    def __str__(self) -> str:
        return self.name


class UserRole(db.Model):
    __tablename__ = "user_roles"
    __entity_label__ = _l("User role")

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    role: Mapped[str] = mapped_column(String(20), primary_key=True, index=True)


class User(UserMixin, db.Model):
    __tablename__ = "users"
    __audit_redact__ = ("password_hash", "session_token", "calendar_token")
    #: Recorded by the login and logout events themselves (and a password change, which rotates the
    #: session key): a change of these alone is no audit entry of its own.
    __audit_skip__ = ("last_login_at", "browser_locale", "session_token")

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(100))
    email: Mapped[str | None] = mapped_column(String(254))
    phone: Mapped[str | None] = mapped_column(String(32))
    password_hash: Mapped[str] = mapped_column(String(255))
    department_id: Mapped[int | None] = mapped_column(ForeignKey("departments.id"), index=True)
    #: A first-line helper (种子用户) for colleagues in the department.
    is_seed_user: Mapped[bool] = mapped_column(Boolean, default=False)
    is_active_account: Mapped[bool] = mapped_column(Boolean, default=True)
    #: Preferred UI language: zh_CN, en, or None for the browser's choice.
    locale: Mapped[str | None] = mapped_column(String(10))
    #: The language the browser asked for at the last sign-in: text written for the user outside
    #: their own requests (notifications) uses it when they chose none.
    browser_locale: Mapped[str | None] = mapped_column(String(10))
    #: Rotated on password change: sessions carrying an older token end.
    session_token: Mapped[str] = mapped_column(String(64), default=new_token)
    #: Secret in the personal calendar feed URL.
    calendar_token: Mapped[str] = mapped_column(String(64), default=new_token, unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    last_login_at: Mapped[datetime | None] = mapped_column(DateTime)
    #: When an admin last confirmed this user's role assignments.
    roles_reviewed_at: Mapped[datetime | None] = mapped_column(DateTime)

    department: Mapped[Department | None] = relationship()
    role_rows: Mapped[list[UserRole]] = relationship(cascade="all, delete-orphan", lazy="selectin")

    @property
    def roles(self) -> set[str]:
        return {row.role for row in self.role_rows}

    def has_role(self, *roles: str) -> bool:
        return bool(self.roles.intersection(roles))

    def set_roles(self, roles) -> None:
        wanted = set(roles)
        self.role_rows = [row for row in self.role_rows if row.role in wanted] + [
            UserRole(role=role) for role in sorted(wanted - self.roles)
        ]

    @property
    def has_password(self) -> bool:
        """False for an account made by an import, until an administrator sets its first password."""
        return not self.password_hash.startswith("!")

    @property
    def is_active(self) -> bool:  # Flask-Login: inactive users cannot log in
        return bool(self.is_active_account)

    def get_id(self) -> str:
        # The session token rides along so a password change ends other sessions.
        return f"{self.id}:{self.session_token}"

    def __str__(self) -> str:
        return self.display_name

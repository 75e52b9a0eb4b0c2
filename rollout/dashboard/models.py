"""The rollout plan (phases, milestones), readiness thresholds, adoption targets and published rankings."""
from __future__ import annotations

from datetime import date, datetime

from flask_babel import lazy_gettext as _l
from sqlalchemy import (JSON, Boolean, CheckConstraint, Date, DateTime, ForeignKey, Index, Integer, String, Text,
                        UniqueConstraint)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from rollout.accounts.models import Department, User
from rollout.database import one_of
from rollout.extensions import db
from rollout.timeutil import utcnow

PILOT = "pilot"
WAVE = "wave"
EVERYONE = "everyone"
PHASE_KINDS = (PILOT, WAVE, EVERYONE)


class RolloutPhase(db.Model):
    """A stage of the rollout: the pilot department, a wave of departments, or everyone."""

    __tablename__ = "rollout_phases"
    __entity_label__ = _l("Rollout phase")
    __table_args__ = (
        CheckConstraint(one_of("kind", (PILOT, WAVE, EVERYONE)), name="ck_rollout_phases_kind"),
        CheckConstraint("ends_on >= starts_on", name="ck_rollout_phases_dates"),
        Index("ix_rollout_phases_starts", "starts_on"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(20), default=WAVE)
    starts_on: Mapped[date] = mapped_column(Date)
    ends_on: Mapped[date] = mapped_column(Date)
    notes: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)

    department_rows: Mapped[list[RolloutPhaseDepartment]] = relationship(
        back_populates="phase", cascade="all, delete-orphan", lazy="selectin")
    milestones: Mapped[list[RolloutMilestone]] = relationship(
        back_populates="phase", order_by="RolloutMilestone.due_on", cascade="all, delete-orphan")

    @property
    def department_ids(self) -> set[int]:
        return {row.department_id for row in self.department_rows}


class RolloutPhaseDepartment(db.Model):
    """A department going live in a phase; each department belongs to one phase at most."""

    __tablename__ = "rollout_phase_departments"
    __entity_label__ = _l("Department in a rollout phase")
    __table_args__ = (UniqueConstraint("department_id", name="uq_rollout_phase_departments_department"),)
    __field_labels__ = {"phase_id": _l("Phase")}

    id: Mapped[int] = mapped_column(primary_key=True)
    phase_id: Mapped[int] = mapped_column(ForeignKey("rollout_phases.id", ondelete="CASCADE"), index=True)
    department_id: Mapped[int] = mapped_column(ForeignKey("departments.id", ondelete="CASCADE"))

    phase: Mapped[RolloutPhase] = relationship(back_populates="department_rows")
    department: Mapped[Department] = relationship(lazy="joined")


class RolloutMilestone(db.Model):
    """A dated checkpoint of the plan (training finished, data migrated, go/no-go meeting)."""

    __tablename__ = "rollout_milestones"
    __entity_label__ = _l("Rollout milestone")
    __table_args__ = (
        CheckConstraint("length(title) > 0", name="ck_rollout_milestones_title"),
        Index("ix_rollout_milestones_due", "due_on"),
    )
    __field_labels__ = {"phase_id": _l("Phase"), "done_on": _l("Completed on")}

    id: Mapped[int] = mapped_column(primary_key=True)
    phase_id: Mapped[int | None] = mapped_column(ForeignKey("rollout_phases.id", ondelete="CASCADE"), index=True)
    title: Mapped[str] = mapped_column(String(200))
    due_on: Mapped[date] = mapped_column(Date)
    #: Set when the milestone was reached.
    done_on: Mapped[date | None] = mapped_column(Date)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)

    phase: Mapped[RolloutPhase | None] = relationship(back_populates="milestones")


class ReadinessSetting(db.Model):
    """Threshold and blocking flag of one readiness item (missing rows use the defaults)."""

    __tablename__ = "readiness_settings"
    __entity_label__ = _l("Readiness threshold")
    __table_args__ = (CheckConstraint("threshold >= 0", name="ck_readiness_settings_threshold"),)
    __field_labels__ = {"key": _l("Item"), "threshold": _l("Threshold")}

    #: Item key: coverage, process_maps, review_window, data_import, permissions, training, seed_users, faq, retro.
    key: Mapped[str] = mapped_column(String(40), primary_key=True)
    #: A percentage, a count or a number of days, depending on the item.
    threshold: Mapped[int] = mapped_column(Integer)
    #: A department is ready only when every blocking item passes.
    is_blocking: Mapped[bool] = mapped_column(Boolean, default=True)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, onupdate=utcnow)


class AdoptionTarget(db.Model):
    """How many plan-tracking entries a rep of a department is expected to record per week."""

    __tablename__ = "adoption_targets"
    __entity_label__ = _l("Adoption target")
    __table_args__ = (CheckConstraint("entries_per_week >= 0 AND entries_per_week <= 1000",
                                      name="ck_adoption_targets_entries"),)
    __field_labels__ = {"entries_per_week": _l("Expected entries per week")}

    department_id: Mapped[int] = mapped_column(ForeignKey("departments.id", ondelete="CASCADE"), primary_key=True)
    entries_per_week: Mapped[int] = mapped_column(Integer)


class RankingPublication(db.Model):
    """A department's usage ranking as published by its head: a frozen snapshot staff can see."""

    __tablename__ = "ranking_publications"
    __entity_label__ = _l("Published ranking")
    __table_args__ = (
        UniqueConstraint("department_id", "period_end_on", name="uq_ranking_publications_period"),
        CheckConstraint("period_end_on >= period_start_on", name="ck_ranking_publications_period"),
    )
    __field_labels__ = {
        "period_start_on": _l("Period start"), "period_end_on": _l("Period end"), "entries": _l("Ranking list"),
        "published_at": _l("Published at"),
    }

    id: Mapped[int] = mapped_column(primary_key=True)
    department_id: Mapped[int] = mapped_column(ForeignKey("departments.id", ondelete="CASCADE"), index=True)
    period_start_on: Mapped[date] = mapped_column(Date)
    period_end_on: Mapped[date] = mapped_column(Date)
    #: [{"user_id", "name", "entries", "rank"}], best first.
    entries: Mapped[list] = mapped_column(JSON, default=list)
    published_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    published_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)

    department: Mapped[Department] = relationship()
    published_by: Mapped[User | None] = relationship()

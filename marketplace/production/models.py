"""Backer surveys, production runs, their lines (quantities per variant) and orders."""

from __future__ import annotations

import datetime as dt
import enum

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from marketplace.accounts.models import User
from marketplace.campaigns.models import Campaign, CampaignVariant, Pledge
from marketplace.kernel.dbtypes import StateEnum, UTCDateTime, enum_column, utcnow
from marketplace.kernel.extensions import db
from marketplace.kernel.i18n import N_
from marketplace.kernel.statemachine import StateMachine


class Survey(db.Model):
    """What a backer of a collected pledge tells us to ship it: an address and the variant,
    confirmed. Asked when the pledge is paid; reminded every 48 h until answered."""

    __tablename__ = "surveys"
    __table_args__ = (sa.Index("ix_surveys_campaign_id_answered_at", "campaign_id", "answered_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    pledge_id: Mapped[int] = mapped_column(sa.ForeignKey("pledges.id"), unique=True)
    campaign_id: Mapped[int] = mapped_column(sa.ForeignKey("campaigns.id"))
    backer_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"), index=True)
    requested_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    reminded_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    answered_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    full_name: Mapped[str | None] = mapped_column(sa.String(120))
    address_line1: Mapped[str | None] = mapped_column(sa.String(200))
    address_line2: Mapped[str | None] = mapped_column(sa.String(200))
    postal_code: Mapped[str | None] = mapped_column(sa.String(20))
    city: Mapped[str | None] = mapped_column(sa.String(100))
    #: ISO 3166-1 alpha-2.
    country: Mapped[str | None] = mapped_column(sa.String(2))
    phone: Mapped[str | None] = mapped_column(sa.String(40))

    pledge: Mapped[Pledge] = relationship()
    backer: Mapped[User] = relationship()


class RunState(StateEnum):
    PLANNED = "planned"
    ORDERED = "ordered"
    IN_PRODUCTION = "in_production"
    SHIPPED = "shipped"
    DELIVERED = "delivered"
    CANCELLED = "cancelled"


#: How pages and mail name the states of runs (``RunState.label``) and orders (their value),
#: for the catalogue: translated where shown, with ``_(run.state.label)``. The French agrees
#: with "série" and "commande", both feminine.
STATE_NAMES = (
    N_("planned"),
    N_("ordered"),
    N_("in production"),
    N_("pending"),
    N_("shipped"),
    N_("delivered"),
    N_("cancelled"),
)


RUN_MACHINE = StateMachine.from_table(
    "production_run",
    RunState,
    """
    planned        order    ordered
    ordered        start    in_production
    in_production  ship     shipped
    shipped        deliver  delivered
    planned        cancel   cancelled
    ordered        cancel   cancelled
    in_production  cancel   cancelled
    """,
)


class ProductionRun(db.Model):
    """Making a settled campaign's products: one run per campaign."""

    __tablename__ = "production_runs"
    __audit_type__ = "production_run"

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(sa.ForeignKey("campaigns.id"), unique=True)
    state: Mapped[RunState] = mapped_column(enum_column(RunState), default=RunState.PLANNED)
    manufacturer: Mapped[str] = mapped_column(sa.String(120))
    #: The manufacturer's order or quote reference.
    reference: Mapped[str] = mapped_column(sa.String(80))
    expected_ship_date: Mapped[dt.date]
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    created_by_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"))
    cancel_reason: Mapped[str | None] = mapped_column(sa.Text)

    campaign: Mapped[Campaign] = relationship()
    lines: Mapped[list[RunLine]] = relationship(
        back_populates="run", order_by="RunLine.position", cascade="all, delete-orphan"
    )

    @property
    def total_units(self) -> int:
        return sum(line.quantity for line in self.lines)


class RunLine(db.Model):
    """Units of one variant to make: computed from the collected pledges, never typed."""

    __tablename__ = "run_lines"
    __table_args__ = (
        sa.UniqueConstraint("run_id", "variant_id"),
        sa.CheckConstraint("quantity > 0", name="quantity_positive"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[int] = mapped_column(sa.ForeignKey("production_runs.id", ondelete="CASCADE"))
    variant_id: Mapped[int] = mapped_column(sa.ForeignKey("campaign_variants.id"))
    position: Mapped[int] = mapped_column(default=0)
    quantity: Mapped[int]

    run: Mapped[ProductionRun] = relationship(back_populates="lines")
    variant: Mapped[CampaignVariant] = relationship()


class OrderState(enum.StrEnum):
    PENDING = "pending"
    SHIPPED = "shipped"
    DELIVERED = "delivered"
    CANCELLED = "cancelled"


ORDER_MACHINE = StateMachine.from_table(
    "order",
    OrderState,
    """
    pending    ship     shipped
    shipped    deliver  delivered
    pending    cancel   cancelled
    shipped    cancel   cancelled
    delivered  cancel   cancelled  # its pledge refunded: it leaves the run too
    """,
)


class Order(db.Model):
    """One collected pledge in a run: what is shipped to one backer."""

    __tablename__ = "orders"
    __table_args__ = (sa.Index("ix_orders_run_id_state", "run_id", "state"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[int] = mapped_column(sa.ForeignKey("production_runs.id"))
    #: A pledge is in one run at most.
    pledge_id: Mapped[int] = mapped_column(sa.ForeignKey("pledges.id"), unique=True)
    state: Mapped[OrderState] = mapped_column(enum_column(OrderState), default=OrderState.PENDING)
    tracking_ref: Mapped[str | None] = mapped_column(sa.String(80))
    shipped_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    delivered_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())

    run: Mapped[ProductionRun] = relationship()
    pledge: Mapped[Pledge] = relationship()

"""Shape of GET /api/notifications: badge counts and change tokens for the signed-in account."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field


class NotificationCounts(BaseModel):
    """What to put in badges and the window title; counts that do not apply to the role are 0."""

    pending_requests: int = Field(description="Access requests waiting for your answer (patients)")
    answered_requests: int = Field(description="Your requests a patient approved or denied after `since` (doctors)")
    new_authored_records: int = Field(
        description="Records doctors added to your vault after `since` (patients; all of them without `since`)"
    )
    expiring_grants: int = Field(
        description="Read grants that end within 24 hours: those you gave (patients), those you hold (doctors)"
    )


class NotificationChanges(BaseModel):
    """One opaque token per area of the app: when one differs from the last you saw, refetch that area."""

    requests: str = Field(description="Access requests (yours, or those for your records) and their states")
    records: str = Field(description="Your records (patients) or the records shared with you (doctors)")
    grants: str = Field(description="What is shared now, and until when")


class Notifications(BaseModel):
    """Polled by the web app while its tab is visible (cheap: database reads only, no chain call)."""

    role: Literal["patient", "doctor"]
    now: int = Field(description="Server time, Unix seconds: send it back as `since` once the list is seen")
    since: int | None = Field(description="The `since` this answer counts from (echoed)")
    counts: NotificationCounts
    changes: NotificationChanges
    token: str = Field(description="Digest of all of `changes`: equal tokens mean nothing changed")

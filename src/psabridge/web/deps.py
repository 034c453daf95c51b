"""FastAPI dependencies shared by every router (database session, settings)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Form, Path, Query, Request
from sqlalchemy.orm import Session

from psabridge.config import Settings
from psabridge.hub.validation import MAX_ID


def get_db(request: Request) -> Iterator[Session]:
    """A session per request; committed by the handler, rolled back on error."""
    session: Session = request.app.state.sessionmaker()
    try:
        yield session
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def get_app_settings(request: Request) -> Settings:
    """The settings the app was built with."""
    settings: Settings = request.app.state.settings
    return settings


DbSession = Annotated[Session, Depends(get_db)]
AppSettings = Annotated[Settings, Depends(get_app_settings)]


#: Record ids in paths, queries and forms: bounded so a huge number is a 422 naming the parameter, never
#: a 32-bit (PostgreSQL) or 64-bit (SQLite) overflow inside a query.
PathId = Annotated[int, Path(ge=1, le=MAX_ID, description="Record id.")]
QueryId = Annotated[int | None, Query(ge=1, le=MAX_ID)]
FormId = Annotated[int, Form(ge=1, le=MAX_ID)]

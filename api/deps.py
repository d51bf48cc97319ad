"""Typed dependencies; tests override ``get_engine``."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from services.engine import Engine


async def get_engine(request: Request) -> Engine:  # async: a plain def would cost a thread hop per request
    return request.app.state.engine


EngineDep = Annotated[Engine, Depends(get_engine)]

"""Jinja2 templates for the server-rendered pages, and their filters."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from services.common.currency import minor_units
from services.gateway.problems import ProblemError

TEMPLATES_DIR = Path(__file__).parent / "templates"
STATIC_DIR = Path(__file__).parent / "static"


def format_money(money: Any) -> str:
    """{"amount_minor": 4900, "currency": "USD"} (or a Money model/proto) -> '49.00 USD'."""
    if money is None:
        return ""
    amount = money["amount_minor"] if isinstance(money, dict) else money.amount_minor
    currency = money["currency"] if isinstance(money, dict) else money.currency
    if amount == 0:
        return "Free"
    exponent = minor_units(currency)
    if exponent is None:  # not a currency we price in: show the raw minor units
        return f"{amount:,} {currency} (minor units)"
    whole = f"{amount / 10**exponent:,.{exponent}f}"
    return f"{whole} {currency}"


def format_datetime(value: datetime | str | None) -> str:
    if value is None or value == "":
        return ""
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return value
    else:
        parsed = value
    return parsed.strftime("%d %b %Y, %H:%M UTC")


templates = Jinja2Templates(directory=str(TEMPLATES_DIR))
templates.env.filters["money"] = format_money
templates.env.filters["datetime"] = format_datetime


def render(
    request: Request,
    name: str,
    context: dict[str, Any] | None = None,
    *,
    status_code: int = 200,
    headers: dict[str, str] | None = None,
) -> HTMLResponse:
    settings = request.app.state.settings
    base: dict[str, Any] = {
        "dev_mode": settings.dev_mode,
        "viewer": getattr(request.state, "viewer", None),
        # Set by page_viewer: whether the header links to the provider studio.
        "studio_link": getattr(request.state, "studio_link", False),
        # Set by page_viewer: whether the header links to the employer's team pages.
        "team_link": getattr(request.state, "team_link", False),
        "current_path": request.url.path + (f"?{request.url.query}" if request.url.query else ""),
    }
    base.update(context or {})
    return templates.TemplateResponse(request, name, base, status_code=status_code, headers=headers)


def render_problem(request: Request, problem: ProblemError) -> HTMLResponse:
    return render(
        request,
        "error.html",
        {"problem": problem},
        status_code=problem.status,
        headers=problem.headers,
    )

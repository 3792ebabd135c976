"""A small WHERE-clause builder for asyncpg's positional parameters ($1, $2, ...)."""

from __future__ import annotations

from datetime import datetime
from typing import Any


class Where:
    def __init__(self) -> None:
        self.clauses: list[str] = []
        self.args: list[Any] = []

    def param(self, value: Any) -> str:
        self.args.append(value)
        return f"${len(self.args)}"

    def add(self, clause: str, *values: Any) -> Where:
        """Add `clause`, each `{}` in it standing for the next value as a parameter."""
        self.clauses.append(clause.format(*(self.param(v) for v in values)))
        return self

    def after(self, cursor: tuple[datetime, str] | None, time_column: str) -> Where:
        """Keyset pagination: rows strictly after `cursor` in (time DESC, id DESC) order."""
        if cursor is not None:
            self.add(f"({time_column}, id) < ({{}}, {{}}::uuid)", cursor[0], cursor[1])
        return self

    def sql(self) -> str:
        return f"WHERE {' AND '.join(self.clauses)}" if self.clauses else ""

    def visible_to(
        self, *, learner_id: str | None, provider_id: str | None, program_id: str
    ) -> Where:
        """The usual ownership scope of a listing: one learner's rows, one provider's rows
        (None: not restricted that way), optionally one program's."""
        if learner_id is not None:
            self.add("learner_id = {}", learner_id)
        if provider_id is not None:
            self.add("provider_id = {}::uuid", provider_id)
        if program_id:
            self.add("program_id = {}::uuid", program_id)
        return self

"""The Acumatica push notification, as a webhook destination receives it.

Two shapes are accepted:
- the documented one: ``{"Inserted": [...], "Deleted": [...], "Query", "CompanyId", "Id", "TimeStamp",
  "AdditionalInfo"}`` (rows are flat GI rows with raw scalar values; keys may carry trailing spaces);
- the variant the walkthrough's connector log shows: the rows under a named list (``"orders": [...]``)
  and the keys spelled ``"ID"`` and ``"Time Stamp"`` (a string), which we read as Inserted rows.
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

Scalar = str | int | float | bool | None
Row = dict[str, Scalar]

_KNOWN = {"Inserted", "Deleted", "Query", "CompanyId", "Id", "ID", "TimeStamp", "Time Stamp", "AdditionalInfo"}

# Bounds of one notification. A row travels on as the hint of a queue message, ten to an SQS batch (256 KB):
# a row stays well under a tenth of that. Real GI rows are a few dozen short columns.
MAX_ROWS = 1000
MAX_COLUMNS = 200
MAX_COLUMN_NAME = 100
MAX_ROW_BYTES = 16_000
MAX_TICKS = 2**63 - 1  # TimeStamp is a .NET long
# Characters no GI column name carries; they only serve injection (NoSQL operators, quoting, templating).
_BAD_NAME_CHARS = frozenset("$'\"`;<>{}\\|")


class PushNotification(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    inserted: list[Row] = Field(default_factory=list, alias="Inserted")
    deleted: list[Row] = Field(default_factory=list, alias="Deleted")
    query: str = Field(alias="Query", min_length=1, max_length=200)
    company_id: str = Field(default="", alias="CompanyId", max_length=200)
    # The GUID of the Acumatica transaction (dedupe key with Query): a token, never free text.
    id: str = Field(alias="Id", min_length=1, max_length=100, pattern=r"^[A-Za-z0-9{}._:-]+$")
    timestamp: int = Field(default=0, alias="TimeStamp", ge=0, le=MAX_TICKS)
    additional_info: dict[str, Any] = Field(default_factory=dict, alias="AdditionalInfo")

    @model_validator(mode="before")
    @classmethod
    def _walkthrough_variant(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            raise ValueError("the body must be a JSON object")
        data = dict(data)
        if "ID" in data and "Id" not in data:
            data["Id"] = data.pop("ID")
        if "Time Stamp" in data and "TimeStamp" not in data:
            data["TimeStamp"] = data.pop("Time Stamp")
        extra_lists = [k for k, v in data.items() if k not in _KNOWN and isinstance(v, list)]
        if extra_lists and "Inserted" not in data:
            if len(extra_lists) > 1:
                raise ValueError(f"more than one row list: {sorted(extra_lists)}")
            data["Inserted"] = data.pop(extra_lists[0])
        return data

    @field_validator("query", "id", mode="before")
    @classmethod
    def _trimmed(cls, v: Any) -> Any:
        return v.strip() if isinstance(v, str) else v

    @field_validator("timestamp", mode="before")
    @classmethod
    def _ticks(cls, v: Any) -> Any:
        if isinstance(v, str):
            digits = v.strip()
            if not (digits.isascii() and digits.isdigit() and len(digits) <= 19):
                raise ValueError("TimeStamp must be an integer (ticks)")
            return int(digits)
        if isinstance(v, bool) or not isinstance(v, int):
            raise ValueError("TimeStamp must be an integer (ticks)")
        return v

    @field_validator("inserted", "deleted")
    @classmethod
    def _rows_bounded(cls, rows: list[Row]) -> list[Row]:
        if len(rows) > MAX_ROWS:
            raise ValueError(f"more than {MAX_ROWS} rows in one notification")
        for n, row in enumerate(rows):
            _check_row(n, row)
        return rows

    @model_validator(mode="after")
    def _has_rows(self) -> PushNotification:
        if not self.inserted and not self.deleted:
            raise ValueError("no Inserted or Deleted rows: a push notification reports at least one changed row")
        return self


def _check_row(n: int, row: Row) -> None:
    if len(row) > MAX_COLUMNS:
        raise ValueError(f"row {n} has more than {MAX_COLUMNS} columns")
    for name in row:
        if not name or len(name) > MAX_COLUMN_NAME or not name.isprintable() or _BAD_NAME_CHARS.intersection(name):
            raise ValueError(f"row {n} has an invalid column name {name[:40]!r} (1-{MAX_COLUMN_NAME} printable "
                             f"characters, none of {''.join(sorted(_BAD_NAME_CHARS))})")
    size = len(json.dumps(row, ensure_ascii=False).encode("utf-8", "surrogatepass"))
    if size > MAX_ROW_BYTES:
        raise ValueError(f"row {n} is {size} bytes (limit {MAX_ROW_BYTES} bytes)")


def clean(value: Scalar) -> str:
    """A key value as Acumatica means it: fixed-width columns come padded with trailing spaces."""
    return "" if value is None else str(value).strip()

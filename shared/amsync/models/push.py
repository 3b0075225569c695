"""The Acumatica push notification, as a webhook destination receives it.

Two shapes are accepted:
- the documented one: ``{"Inserted": [...], "Deleted": [...], "Query", "CompanyId", "Id", "TimeStamp",
  "AdditionalInfo"}`` (rows are flat GI rows with raw scalar values; keys may carry trailing spaces);
- the variant the walkthrough's connector log shows: the rows under a named list (``"orders": [...]``)
  and the keys spelled ``"ID"`` and ``"Time Stamp"`` (a string), which we read as Inserted rows.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

Scalar = str | int | float | bool | None
Row = dict[str, Scalar]

_KNOWN = {"Inserted", "Deleted", "Query", "CompanyId", "Id", "ID", "TimeStamp", "Time Stamp", "AdditionalInfo"}


class PushNotification(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    inserted: list[Row] = Field(default_factory=list, alias="Inserted")
    deleted: list[Row] = Field(default_factory=list, alias="Deleted")
    query: str = Field(alias="Query", min_length=1, max_length=200)
    company_id: str = Field(default="", alias="CompanyId", max_length=200)
    id: str = Field(alias="Id", min_length=1, max_length=100)
    timestamp: int = Field(default=0, alias="TimeStamp", ge=0)
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

    @field_validator("timestamp", mode="before")
    @classmethod
    def _ticks(cls, v: Any) -> Any:
        if isinstance(v, str):
            if not v.strip().isdigit():
                raise ValueError("TimeStamp must be an integer (ticks)")
            return int(v.strip())
        if isinstance(v, bool) or not isinstance(v, int):
            raise ValueError("TimeStamp must be an integer (ticks)")
        return v

    @field_validator("inserted", "deleted")
    @classmethod
    def _rows_bounded(cls, rows: list[Row]) -> list[Row]:
        if len(rows) > 1000:
            raise ValueError("more than 1000 rows in one notification")
        return rows


def clean(value: Scalar) -> str:
    """A key value as Acumatica means it: fixed-width columns come padded with trailing spaces."""
    return "" if value is None else str(value).strip()

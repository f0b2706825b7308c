"""A ward protocol's HTTP shape (issue 14, item 3): what an admin sends to set the
protocol a ward runs (ward/protocols.py's names)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from api.inputs import StrictIn as _In
from ward.protocols import NAMES

ProtocolName = Literal[NAMES]  # type: ignore[valid-type]  # the table's names, one list


class ProtocolSet(_In):
    protocol: ProtocolName = Field(
        description="news2, covid-oximetry (COVID-19 oximetry @home's SpO2 levels) or"
                    " heart-failure (daily weight gain); NEWS2 applies on every ward")

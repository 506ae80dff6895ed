"""The price file (prices.json): us-east-1 list prices with where each was seen, and the
assumptions an idle estimate needs, each with its reason."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict

PRICES_FILE = Path(__file__).with_name("prices.json")


class Price(BaseModel):
    """One list price: dollars per unit, the AWS page it belongs to and where it was read."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    usd: float
    unit: str
    source: str
    seen_in: str
    confirmed: bool = True
    """False: the figure was not read on an AWS page (the page renders it by script, or it
    was not found); `seen_in` says where it was seen instead."""


class Assumption(BaseModel):
    """A quantity the template does not say, with why it has this value."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    value: float
    why: str


class PriceBook(BaseModel):
    """Everything prices.json holds."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    region: str
    checked: str
    hours_per_month: float
    free_tier: str
    prices: dict[str, Price]
    assumptions: dict[str, Assumption]
    free: dict[str, str]
    """Resource types that cost nothing of their own, each with why."""

    def usd(self, name: str) -> float:
        """The price called `name` (a KeyError names a price the file lacks)."""
        return self.prices[name].usd

    def assumed(self, name: str) -> float:
        """The assumption called `name`."""
        return self.assumptions[name].value

    @property
    def unconfirmed(self) -> list[str]:
        """The prices not read on an AWS page."""
        return [name for name, price in self.prices.items() if not price.confirmed]


def load(path: Path = PRICES_FILE) -> PriceBook:
    """The price book in `path`."""
    return PriceBook.model_validate_json(path.read_text())

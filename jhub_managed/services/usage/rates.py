"""The operator's rate card: prices per server-hour, CPU-hour, GiB-hour and GPU-hour.

.. code-block:: python

    {
        "currency": "EUR",
        "server_hour": 0.01,
        "cpu_hour": 0.03,
        "memory_gib_hour": 0.004,
        "gpu_hour": 0.9,
        "profiles": {"gpu": {"gpu_hour": 1.5}},   # optional, per profile slug
    }

A price not given is 0; a profile's prices fall back to the card's own.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

PRICE_KEYS = ("server_hour", "cpu_hour", "memory_gib_hour", "gpu_hour")
_CURRENCY = re.compile(r"^[A-Za-z]{3}$")


@dataclass(frozen=True)
class Prices:
    server_hour: float = 0.0
    cpu_hour: float = 0.0
    memory_gib_hour: float = 0.0
    gpu_hour: float = 0.0

    def cost(self, server_hours: float, cpu_hours: float, gib_hours: float, gpu_hours: float):
        return (
            server_hours * self.server_hour
            + cpu_hours * self.cpu_hour
            + gib_hours * self.memory_gib_hour
            + gpu_hours * self.gpu_hour
        )


@dataclass(frozen=True)
class RateCard:
    currency: str
    default: Prices
    profiles: dict[str, Prices] = field(default_factory=dict)

    def prices_for(self, profile: str) -> Prices:
        return self.profiles.get(profile, self.default)

    @classmethod
    def from_config(cls, config: Mapping[str, Any] | None) -> RateCard | None:
        """The card from the operator's option; ``None`` when there is none.

        Raises ``ValueError`` saying which key is wrong.
        """
        if not config:
            return None
        if not isinstance(config, Mapping):
            raise ValueError("the rate card must be a mapping")
        unknown = sorted(set(config) - {"currency", "profiles", *PRICE_KEYS})
        if unknown:
            raise ValueError(
                f"unknown key {unknown[0]!r} (keys: currency, profiles, "
                + ", ".join(PRICE_KEYS)
                + ")"
            )
        currency = config.get("currency")
        if not isinstance(currency, str) or not _CURRENCY.fullmatch(currency):
            raise ValueError("'currency' must be a three-letter currency code, e.g. 'EUR'")
        default = _prices(config, Prices(), "")
        profiles = {}
        raw_profiles = config.get("profiles") or {}
        if not isinstance(raw_profiles, Mapping):
            raise ValueError("'profiles' must map profile slugs to prices")
        for slug, prices in raw_profiles.items():
            if not isinstance(prices, Mapping):
                raise ValueError(f"profiles.{slug} must be a mapping of prices")
            unknown = sorted(set(prices) - set(PRICE_KEYS))
            if unknown:
                raise ValueError(f"profiles.{slug}: unknown key {unknown[0]!r}")
            profiles[str(slug)] = _prices(prices, default, f"profiles.{slug}.")
        return cls(currency=currency.upper(), default=default, profiles=profiles)


def _prices(config: Mapping[str, Any], fallback: Prices, where: str) -> Prices:
    values = {}
    for key in PRICE_KEYS:
        value = config.get(key, getattr(fallback, key))
        if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
            raise ValueError(f"{where}{key} must be a price of 0 or more, not {value!r}")
        values[key] = float(value)
    return Prices(**values)

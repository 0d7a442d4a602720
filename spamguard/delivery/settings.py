"""The delivery settings, read once from the app config (or the worker's environment)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from .urls import Network, parse_networks

POLICIES = ("ham", "spam", "none")


@dataclass(frozen=True)
class DeliverySettings:
    secret_key: str
    allow_private: list[Network] = field(default_factory=list)
    timeout: float = 5.0
    max_attempts: int = 10
    backoff_seconds: float = 30.0
    backoff_max_seconds: float = 6 * 3600.0
    decision_timeout: int = 3600
    timeout_policy: str = "ham"

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> DeliverySettings:
        policy = str(config.get("SPAMGUARD_DECISION_TIMEOUT_POLICY", "ham")).strip().lower()
        if policy not in POLICIES:
            raise ValueError(f"SPAMGUARD_DECISION_TIMEOUT_POLICY must be one of {', '.join(POLICIES)}")
        return cls(
            secret_key=config["SECRET_KEY"],
            allow_private=parse_networks(config.get("SPAMGUARD_DELIVERY_ALLOW_PRIVATE", "")),
            timeout=float(config.get("SPAMGUARD_DELIVERY_TIMEOUT", 5.0)),
            max_attempts=int(config.get("SPAMGUARD_DELIVERY_MAX_ATTEMPTS", 10)),
            backoff_seconds=float(config.get("SPAMGUARD_DELIVERY_BACKOFF_SECONDS", 30.0)),
            decision_timeout=int(config.get("SPAMGUARD_DECISION_TIMEOUT_SECONDS", 3600)),
            timeout_policy=policy,
        )

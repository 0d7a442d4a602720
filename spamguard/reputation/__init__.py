"""Cross-site reputation of commenters and link domains: a scoring signal kept in the state backend."""

from .store import LABELS, REP_LUA, Reputation, ReputationStore, adjust, domain_of, link_domains, signals

__all__ = ["LABELS", "REP_LUA", "Reputation", "ReputationStore", "adjust", "domain_of", "link_domains", "signals"]

"""Which repo ids the mirror serves from the upstream: every id, or those matching `--mirror` patterns."""

from __future__ import annotations

from fnmatch import fnmatchcase

from hubd.hub.names import TYPE_PREFIX


class MirrorRules:
    """Patterns over the repo's URL path, as on the Hub: `meta-llama/*` (models), `datasets/*`,
    `datasets/org/*`, `spaces/org/name`. No pattern: every id not hosted locally is mirrored."""

    def __init__(self, spec: str) -> None:
        self.patterns = [p.strip().strip("/").lower() for p in spec.split(",") if p.strip()]

    @property
    def explicit(self) -> bool:
        return bool(self.patterns)

    def covers(self, repo_type: str, namespace: str, name: str) -> bool:
        if not self.patterns:
            return True
        path = f"{TYPE_PREFIX[repo_type]}{namespace}/{name}".lower()
        return any(fnmatchcase(path, p) for p in self.patterns)

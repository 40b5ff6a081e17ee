"""Who may do what: principals, namespace roles, and the rules for private and gated repos."""

from __future__ import annotations

from dataclasses import dataclass, field

ROLE_ORDER = {"read": 1, "contributor": 2, "write": 3, "admin": 4}


@dataclass(frozen=True)
class Principal:
    user_id: int
    name: str
    fullname: str
    email: str | None
    is_admin: bool
    token_name: str
    token_role: str  # read | write
    org_roles: dict[str, str] = field(default_factory=dict)

    def namespace_role(self, namespace: str) -> str | None:
        if self.is_admin or namespace == self.name:
            return "admin"
        return self.org_roles.get(namespace)


def can_read(p: Principal | None, namespace: str, private: bool) -> bool:
    if not private:
        return True
    return p is not None and p.namespace_role(namespace) is not None


def can_read_gated(p: Principal | None, namespace: str) -> bool:
    """Gated repos: members of the namespace always have access; others once their access request is
    accepted (hub/gating.py, which asks this first)."""
    return p is not None and p.namespace_role(namespace) is not None


def can_write(p: Principal | None, namespace: str, created_by: int | None, minimum: str) -> bool:
    """May `p` change a repo? `minimum` is "pr" (upload content and open or update pull requests),
    "contributor" (commit to its branches), "write" or "admin". As on the Hub, an org's contributors commit
    only to the repos they created, and elsewhere only open pull requests; and any signed-in user with a write
    token opens pull requests on a repo they can read (the caller checked that), which move no branch."""
    if minimum == "pr":
        return p is not None and p.token_role == "write"
    if not has_role(p, namespace, minimum):
        return False
    assert p is not None
    return p.namespace_role(namespace) != "contributor" or created_by == p.user_id


def has_role(p: Principal | None, namespace: str, minimum: str, *, needs_write_token: bool = True) -> bool:
    if p is None:
        return False
    if needs_write_token and p.token_role != "write":
        return False
    role = p.namespace_role(namespace)
    return role is not None and ROLE_ORDER[role] >= ROLE_ORDER[minimum]

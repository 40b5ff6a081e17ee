"""Who may do what: principals, namespace roles, and the rules for private and gated repos."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from enum import StrEnum


class Role(StrEnum):
    """A member's role in an org, weakest first (a StrEnum: stored and compared as the Hub's strings)."""

    READ = "read"
    CONTRIBUTOR = "contributor"  # commits to branches of repos it created, opens PRs elsewhere
    WRITE = "write"
    ADMIN = "admin"


# keyed by str: roles read back from the database are plain strings, equal to their Role
ROLE_ORDER: dict[str, int] = {role: rank for rank, role in enumerate(Role, start=1)}

# Fine-grained permissions, named as on the Hub. Repo permissions apply to one repo or to every repo of a
# namespace; the others to a namespace (the user's own, or an org) or, for "global" ones, everywhere.
REPO_READ, REPO_WRITE = "repo.content.read", "repo.write"
REPO_PERMISSIONS = (REPO_READ, REPO_WRITE, "discussion.write", "repo.access.read")
NAMESPACE_PERMISSIONS = REPO_PERMISSIONS + (
    "collection.read", "collection.write", "user.webhooks.read", "user.webhooks.write", "user.social.likes.write",
    "org.read", "org.write",
)
GLOBAL_PERMISSIONS = ("discussion.write", "post.write")


@dataclass(frozen=True)
class TokenScopes:
    """What a fine-grained token may do, resolved to current names when the token is looked up (stored by
    account and repo id, so a scope never passes to a later repo or account of the same name)."""

    global_perms: frozenset[str] = frozenset()
    namespaces: dict[str, frozenset[str]] = field(default_factory=dict)  # account name -> permissions
    repos: dict[int, frozenset[str]] = field(default_factory=dict)  # repo id -> permissions
    can_read_gated: bool = False
    shown: dict = field(default_factory=dict, compare=False)  # the Hub's `fineGrained` object, for whoami

    def on_repo(self, repo_id: int, namespace: str) -> frozenset[str]:
        return self.namespaces.get(namespace, frozenset()) | self.repos.get(repo_id, frozenset())

    def on_namespace(self, namespace: str) -> frozenset[str]:
        return self.namespaces.get(namespace, frozenset()) | self.global_perms


def scope_message(permission: str, target: str) -> str:
    return (f"This fine-grained token does not have the '{permission}' permission on {target}. "
            "Make sure your token has the correct permissions.")


@dataclass(frozen=True)
class Principal:
    user_id: int
    name: str
    fullname: str
    email: str | None
    is_admin: bool
    token_name: str
    token_role: str  # read | write | fineGrained
    org_roles: dict[str, str] = field(default_factory=dict)
    scopes: TokenScopes | None = None  # fine-grained tokens only
    token_id: int | None = None

    def base_role(self, namespace: str) -> str | None:
        """The account's role in a namespace, whatever the token allows."""
        if self.is_admin or namespace == self.name:
            return "admin"
        return self.org_roles.get(namespace)

    def namespace_role(self, namespace: str) -> str | None:
        """The role this request acts with: a fine-grained token reaches a namespace's private repos only
        when it is scoped to the whole namespace (a token scoped to one repo is checked per repo)."""
        role = self.base_role(namespace)
        if role is None or self.scopes is None:
            return role
        return role if self.scopes.namespaces.get(namespace, frozenset()) & {REPO_READ, REPO_WRITE} else None

    def as_write_token(self) -> Principal:
        """The same account with a classic write token: the role rules once a scope has allowed the act."""
        return replace(self, token_role="write", scopes=None)

    def allows(self, permission: str, namespace: str | None = None) -> bool:
        """A permission outside repos (collections, webhooks, likes) on a namespace (default: the user's own).
        Classic tokens: read tokens only read; fine-grained: the scope must name it."""
        if self.scopes is None:
            return self.token_role == "write" or not permission.endswith(".write")
        return permission in self.scopes.on_namespace(namespace or self.name)


def repo_scope(p: Principal | None, repo_id: int, namespace: str) -> frozenset[str] | None:
    """The fine-grained permissions a token has on a repo; None for anonymous callers and classic tokens."""
    if p is None or p.scopes is None:
        return None
    return p.scopes.on_repo(repo_id, namespace)


def scoped_read(p: Principal | None, repo_id: int, namespace: str) -> bool:
    """A fine-grained token scoped to this very repo reads it when its account may (private repos)."""
    perms = repo_scope(p, repo_id, namespace)
    return bool(perms and perms & {REPO_READ, REPO_WRITE}) and p is not None and p.base_role(namespace) is not None


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

"""Access, generated from the route table: every route × every kind of caller × every kind of repo.

Each route declares its access rule (`Router.add(..., access=...)`); this test builds a request for every
route and method from the route's own pattern, sends it as each caller about each repo, and checks the
answer against the rule. A route without a rule, or a rule this test does not know, fails it. Private and
missing repos must answer exactly alike (status, error code, message and body)."""

from __future__ import annotations

import json
import re
import re._parser as sre  # the stdlib's own regex parser: paths are generated from the patterns themselves
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest
from huggingface_hub import HfApi

from hubd.api.routes import ACCESS, build_router

ORG = "vault"
KINDS = ("public", "private", "gated", "missing")
ROLE_ORDER = {"read": 1, "contributor": 2, "write": 3, "admin": 4}


@dataclass(frozen=True)
class Caller:
    name: str  # how the test calls it
    user: str | None  # the account, None when anonymous
    token_key: str | None  # key in hubd.tokens
    role: str | None  # role in ORG
    writes: bool  # a write token


CALLERS = [
    Caller("anonymous", None, None, None, False),
    Caller("outsider", "bob", "bob", None, True),
    Caller("admin-read-token", "alice", "alice-read", "admin", False),
    Caller("member-read", "vread", "vread", "read", True),
    Caller("member-contributor", "vcontrib", "vcontrib", "contributor", True),
    Caller("member-write", "vwrite", "vwrite", "write", True),
    Caller("member-admin", "vadmin", "vadmin", "admin", True),
]


def _sample(pattern: str, values: dict[str, str]) -> str:
    """A path the pattern matches, with `values` in its named groups. A group without a value is generated
    from its own pattern; an optional part is kept only when it holds a group that has a value."""
    compiled = re.compile(pattern)
    names = {i: n for n, i in compiled.groupindex.items()}

    def emit(items) -> tuple[str, bool]:  # type: ignore[no-untyped-def]
        out, used = [], False
        for op, arg in items:
            if op is sre.LITERAL:
                out.append(chr(arg))
            elif op is sre.SUBPATTERN:
                group = names.get(arg[0])
                if group in values:
                    out.append(values[group])
                    used = True
                else:
                    inner, inner_used = emit(arg[3])
                    out.append(inner)
                    used |= inner_used
            elif op is sre.BRANCH:
                inner, inner_used = emit(arg[1][0])
                out.append(inner)
                used |= inner_used
            elif op in (sre.MAX_REPEAT, sre.MIN_REPEAT):
                low, _high, body = arg
                inner, inner_used = emit(body)
                if low == 0:
                    out.append(inner if inner_used else "")
                else:
                    out.append(inner * low)
                used |= inner_used
            elif op in (sre.NOT_LITERAL, sre.ANY):
                out.append("x")
            elif op is sre.IN:
                out.append(_in_sample(arg))
            elif op in (sre.AT, sre.ASSERT_NOT):  # anchors and lookaheads (page ids never start with api/)
                continue
            else:
                raise AssertionError(f"pattern element {op} not handled")
        return "".join(out), used

    path = emit(sre.parse(pattern))[0]
    assert compiled.fullmatch(path), (pattern, path)
    return path


def _in_sample(items) -> str:  # type: ignore[no-untyped-def]
    for op, arg in items:
        if op is sre.LITERAL:
            return chr(arg)
        if op is sre.RANGE:
            return chr(arg[0])
        if op is sre.CATEGORY:
            return "1"
    return "x"


@dataclass
class Case:
    method: str
    pattern: str
    rule: str
    handler: str


def _cases() -> Iterator[Case]:
    for route in build_router().routes:
        for method, handler in route.handlers.items():
            yield Case(method, route.regex.pattern[1:-1], route.access.get(method, ""),
                       f"{handler.__module__}.{handler.__name__}")


def test_every_route_declares_a_known_rule() -> None:
    missing = [f"{c.method} {c.pattern} ({c.handler})" for c in _cases() if c.rule not in ACCESS]
    assert not missing, "routes without an access rule:\n" + "\n".join(missing)


@pytest.fixture(scope="module")
def vault(hubd):  # type: ignore[no-untyped-def]
    """An org with a member of each role, and a public, a private and a gated repo of each type."""
    hubd.cli("orgs", "add", ORG)
    hubd.cli("orgs", "add-member", ORG, "alice", "--role", "admin")
    for c in CALLERS:
        if c.role and c.user != "alice":
            hubd.add_user(c.user)
            hubd.cli("orgs", "add-member", ORG, c.user, "--role", c.role)
    alice = HfApi(token=hubd.tokens["alice"])
    repos = {}
    for repo_type in ("model", "dataset", "space"):
        for kind in ("public", "private", "gated"):
            repo_id = f"{ORG}/{repo_type}-{kind}"
            alice.create_repo(repo_id, repo_type=repo_type, private=kind == "private",
                              space_sdk="static" if repo_type == "space" else None)
            alice.upload_file(path_or_fileobj=b"a", path_in_repo="a.txt", repo_id=repo_id, repo_type=repo_type)
            if kind == "gated":
                alice.update_repo_settings(repo_id, gated="manual", repo_type=repo_type)
            # discussion #1 is alice's: "discussion-author" routes then allow exactly the repo's writers
            alice.create_discussion(repo_id, "alice's discussion", repo_type=repo_type)
            repos[(repo_type, kind)] = repo_id
        repos[(repo_type, "missing")] = f"{ORG}/{repo_type}-missing"
    for c in CALLERS:  # a repo of their own, as a target of copies
        if c.token_key:
            HfApi(token=hubd.tokens[c.user]).create_repo(f"{c.user}/access-target", exist_ok=True)
    return repos


def _values(repo_type: str, repo_id: str) -> dict[str, str]:
    ns, name = repo_id.split("/")
    plural = {"model": "models", "dataset": "datasets", "space": "spaces"}[repo_type]
    values = {"types": plural, "ns": ns, "name": name, "rev": "main", "path": "a.txt", "ref": "b1", "num": "1",
            "service": "upload-pack"}
    if repo_type != "model":
        values["prefix"] = plural
    return values


def _request(case: Case, repo_type: str, repo_id: str, caller: Caller, hubd) -> httpx.Request:  # type: ignore[no-untyped-def]
    values = _values(repo_type, repo_id)
    viewer = case.handler.rsplit(".", 1)[-1].startswith("viewer_")  # the repo is in the query
    if case.rule == "write-body" or viewer:
        values = {}
    elif "parquet" in case.pattern:
        values.update(config="default", split="train", n="0")
    path = _sample(case.pattern, values)
    headers = {"authorization": f"Bearer {hubd.tokens[caller.token_key]}"} if caller.token_key else {}
    body: dict | None = None
    content: bytes | None = None
    params: dict[str, str] = {}
    short = case.handler.rsplit(".", 1)[-1]
    if short == "commit":
        content = json.dumps({"key": "header", "value": {"summary": "access"}}).encode()
        headers["content-type"] = "application/x-ndjson"
    elif short == "preupload":
        body = {"files": [{"path": "x.txt", "size": 1, "sample": "eA=="}]}
    elif short == "batch":
        body = {"operation": "download", "objects": [{"oid": "a" * 64, "size": 1}]}
    elif short == "verify":
        body = {"oid": "a" * 64, "size": 1}
    elif short == "paths_info":
        body = {"paths": ["a.txt"]}
    elif short == "create_tag":
        body = {"tag": f"t{uuid.uuid4().hex[:8]}"}
    elif short == "create":  # discussions
        body = {"title": "hello"}
    elif short == "comment":
        body = {"comment": "hello"}
    elif short == "duplicate_repo":
        body = {"repository": f"{caller.user or 'nobody'}/dup-{uuid.uuid4().hex[:8]}"}
    elif short == "duplicate_lfs_files":
        body = {"target": {"type": "model", "name": f"{caller.user or 'nobody'}/access-target"},
                "files": [{"sha256": "a" * 64}]}
    elif short in ("delete_repo", "move_repo"):
        ns, name = repo_id.split("/")
        body = {"name": name, "organization": ns, "type": repo_type}
        if short == "move_repo":
            body = {"fromRepo": repo_id, "toRepo": f"{ns}/{name}-moved-{uuid.uuid4().hex[:6]}", "type": repo_type}
    elif short == "update_settings":
        body = {}
    if viewer:
        params = {"dataset": repo_id, "config": "default", "split": "train"}
    if short == "info_refs":
        params = {"service": "git-upload-pack"}
    return httpx.Request(case.method, hubd.url + path, headers=headers, params=params,
                         content=content if content is not None else (json.dumps(body).encode() if body else None))


def _expected(rule: str, caller: Caller, kind: str) -> str:
    """allowed | invisible | gated | forbidden"""
    member = caller.role is not None
    visible = kind in ("public", "gated") or (kind == "private" and member)
    if not visible:
        return "invisible"
    if rule == "read" or (rule == "user-read" and caller.user):
        return "allowed"
    if rule == "download" or (rule == "create-from" and caller.writes):
        return "allowed" if kind != "gated" or member else "gated"
    if rule in ("user-read", "create-from"):
        return "forbidden"
    if rule == "discuss":  # any signed-in user with a write token, gated repos included
        return "allowed" if caller.writes else "forbidden"
    if rule == "pr":  # any signed-in user with a write token who may download (pull requests move no branch)
        if not caller.writes:
            return "forbidden"
        return "allowed" if kind != "gated" or member else "gated"
    # discussion #1 is alice's (the fixture), so "discussion-author" is the repo's writers; alice created the
    # repos, so the org's contributors are not among them
    minimum = {"contributor": "write", "write": "write", "write-body": "write", "discussion-author": "write"}[rule]
    if caller.writes and member and ROLE_ORDER[caller.role] >= ROLE_ORDER[minimum]:  # type: ignore[index]
        return "allowed"
    return "forbidden"


def _shape(r: httpx.Response) -> tuple:
    return (r.status_code, r.headers.get("x-error-code"), r.headers.get("x-error-message"),
            r.content if r.request.method != "HEAD" else b"")


def _same_as_missing(client: httpx.Client, case: Case, repo_type: str, vault: dict, caller: Caller,  # type: ignore[type-arg]
                     hubd, r: httpx.Response) -> bool:  # type: ignore[no-untyped-def]
    """Status, code, message and body equal to the same request about a missing repo (the body only where
    it cannot name the repo: routes that take the repo in the body echo it)."""
    missing = client.send(_request(case, repo_type, vault[(repo_type, "missing")], caller, hubd))
    same = _shape(missing)[:3] == _shape(r)[:3] or (case.rule == "write-body" and _shape(missing)[:2] == _shape(r)[:2])
    return same and (case.rule == "write-body" or _shape(missing)[3] == _shape(r)[3])


REPO_RULES = ("read", "download", "pr", "contributor", "write", "write-body", "user-read", "create-from", "discuss",
              "discussion-author")


@pytest.mark.parametrize("repo_type", ["model", "dataset", "space"])
def test_route_access_matrix(hubd, vault, repo_type: str) -> None:  # type: ignore[no-untyped-def]
    failures = []
    checked = 0
    alice = HfApi(token=hubd.tokens["alice"])
    with httpx.Client(timeout=60) as client:
        for case in _cases():
            if case.rule not in REPO_RULES:
                continue
            if ("viewer" in case.handler or "parquet" in case.pattern) and repo_type != "dataset":
                continue
            for caller in CALLERS:
                for kind in KINDS:
                    repo_id = vault[(repo_type, kind)]
                    if case.rule == "write-body" and kind != "missing":
                        # a repo of its own: an allowed delete or move must not take the shared ones
                        repo_id = f"{ORG}/{repo_type}-{kind}-{uuid.uuid4().hex[:6]}"
                        alice.create_repo(repo_id, repo_type=repo_type, private=kind == "private",
                                          space_sdk="static" if repo_type == "space" else None)
                        if kind == "gated":
                            alice.update_repo_settings(repo_id, gated="manual", repo_type=repo_type)
                    r = client.send(_request(case, repo_type, repo_id, caller, hubd))
                    checked += 1
                    expected = _expected(case.rule, caller, kind)
                    code = r.headers.get("x-error-code")
                    where = f"{case.method} {r.request.url.path} as {caller.name} on {kind}: {r.status_code} {code}"
                    if r.status_code >= 500:
                        failures.append(f"5xx: {where}")
                    elif caller.user is None and expected != "allowed":
                        # anonymous: 401 whatever the reason, and a private repo exactly like a missing one
                        if r.status_code != 401:
                            failures.append(f"expected 401: {where}")
                        elif kind == "private" and not _same_as_missing(client, case, repo_type, vault, caller,
                                                                         hubd, r):
                            failures.append(f"private differs from missing: {where}")
                    elif expected == "allowed":
                        if r.status_code in (401, 403) or code in ("RepoNotFound", "GatedRepo"):
                            failures.append(f"expected allowed: {where}")
                    elif expected == "invisible":
                        if code != "RepoNotFound" or r.status_code != 404:
                            failures.append(f"expected RepoNotFound: {where}")
                        elif kind == "private" and not _same_as_missing(client, case, repo_type, vault, caller, hubd,
                                                                         r):
                            failures.append(f"private differs from missing: {where}")
                    elif expected == "gated":
                        if code != "GatedRepo" or r.status_code != 403:
                            failures.append(f"expected GatedRepo: {where}")
                    elif r.status_code != 403:
                        failures.append(f"expected 403: {where}")
    assert checked > 300
    assert not failures, f"{len(failures)} of {checked} checks failed:\n" + "\n".join(failures[:60])


PAGE_RULES = ("page", "form")
_TOKEN_FIELD = re.compile(r'name="csrf_token" value="[^"]*"')


def _page_text(r: httpx.Response, repo_id: str) -> str:
    """A page without what differs by request alone: its CSRF token, and the id the caller typed (the sign-in
    link of the 404 page returns to the URL asked for)."""
    return _TOKEN_FIELD.sub("", r.text).replace(repo_id.split("/")[1], "REPO")


@pytest.mark.parametrize("repo_type", ["model", "dataset", "space"])
def test_pages_show_a_private_repo_as_a_missing_one(hubd, vault, repo_type: str) -> None:  # type: ignore[no-untyped-def]
    """`page`: an HTML page whose handler applies the repo's rules; `form`: a form POST that also needs the
    form's CSRF token. To anyone who may not see a private repo, every page and form about it answers exactly
    as for a missing repo (status and page, the per-request CSRF token aside), and never a 5xx."""
    failures, checked = [], 0
    with httpx.Client(timeout=60) as client:
        for case in _cases():
            if case.rule not in PAGE_RULES or "(?P<name>" not in case.pattern:
                continue
            if "viewer" in case.pattern and repo_type != "dataset":
                continue
            for caller in CALLERS:
                headers = {"authorization": f"Bearer {hubd.tokens[caller.token_key]}"} if caller.token_key else {}
                answers = []
                for kind in ("private", "missing"):
                    values = {**_values(repo_type, vault[(repo_type, kind)]), "sha": "a" * 40,
                              "config": "default", "split": "train"}
                    path = _sample(case.pattern, values)
                    answers.append(client.request(case.method, hubd.url + path, headers=headers))
                    checked += 1
                private, missing = answers
                where = f"{case.method} {private.request.url.path} as {caller.name}: {private.status_code}"
                if private.status_code >= 500 or missing.status_code >= 500:
                    failures.append(f"5xx: {where}")
                elif caller.role is None and (
                        private.status_code != missing.status_code or private.status_code not in (401, 403, 404)
                        or _page_text(private, vault[(repo_type, "private")])
                        != _page_text(missing, vault[(repo_type, "missing")])):
                    failures.append(f"private differs from missing: {where} vs {missing.status_code}")
    assert checked > 50
    assert not failures, "\n".join(failures[:40])

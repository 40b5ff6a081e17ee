"""The hubd command: serve, account administration, integrity checks."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from typing import Any

import click

from hubd.config import SETTINGS, load_settings
from hubd.hub.errors import HubError

_STORE_OPTIONS = ("data_dir", "database_url", "storage_url")


def _setting_options(names: tuple[str, ...]) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    def decorate(fn: Callable[..., Any]) -> Callable[..., Any]:
        for s in reversed([s for s in SETTINGS if s.name in names]):
            fn = click.option(f"--{s.name.replace('_', '-')}", s.name, type=s.type, default=None,
                              multiple=s.name == "mirror",  # --mirror 'meta-llama/*' --mirror 'datasets/*'
                              help=f"{s.help} [env HUBD_{s.name.upper()}; default {s.default!r}]")(fn)
        return fn
    return decorate


def _hub(opts: dict[str, Any]):  # a Hub, imported lazily so that the CLI starts fast
    from hubd.hub.service import open_hub

    return open_hub(load_settings({k: opts.get(k) for k in _STORE_OPTIONS}))


def _fail(exc: HubError) -> None:
    click.echo(f"error: {exc.message}", err=True)
    sys.exit(1)


@click.group()
def main() -> None:
    """hubd: a self-hosted Hugging Face Hub."""


def _port_taken(host: str, port: int) -> str | None:
    """Why `host:port` cannot be listened on, or None. granian binds with SO_REUSEPORT, so a second
    server on a taken port would start and share it silently; a plain bind (SO_REUSEADDR only, which
    still refuses a port another socket listens on but not one in TIME_WAIT) finds out first."""
    import socket

    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        return f"cannot resolve {host}: {exc}"
    family, _type, _proto, _name, addr = infos[0]
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(addr)
        except OSError as exc:
            return exc.strerror or str(exc)
    return None


@main.command()
@_setting_options(tuple(s.name for s in SETTINGS))
def serve(**opts: Any) -> None:
    """Start the server (SQLite and a local data dir unless told otherwise)."""
    from granian import Granian
    from granian.constants import HTTPModes, Interfaces
    from granian.http import HTTP1Settings

    opts["mirror"] = ",".join(opts.get("mirror") or ()) or None
    try:
        settings = load_settings(opts)
    except ValueError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(1)
    if settings.max_connections < 16:
        click.echo("error: --max-connections must be at least 16", err=True)
        sys.exit(1)
    problem = _port_taken(settings.host, settings.port)
    if problem is not None:
        click.echo(f"error: cannot listen on {settings.host}:{settings.port}: {problem} "
                   "(is another hubd running? choose another --port)", err=True)
        sys.exit(1)
    os.environ.update(settings.to_env())  # the factory in each worker reads the same settings
    _hub(opts).db.dispose()  # create the schema and fail early on a bad database or storage url
    click.echo(f"hubd serving on {settings.base_url} (data: {settings.db_url}, {settings.blob_url})", err=True)
    Granian(
        "hubd.app:create_app", address=settings.host, port=settings.port, interface=Interfaces.ASGI,
        factory=True, workers=settings.workers, log_level=settings.log_level,  # type: ignore[arg-type]
        blocking_threads=None,
        # HTTP/1.1 only: in "auto" mode a connection that sends nothing waits, with no timeout, for the
        # bytes that tell HTTP/1 from HTTP/2, so the header timeout below would never close it.
        http=HTTPModes.http1, websockets=False,
        # Each open connection holds one of `backpressure` slots until it closes: the header timeout
        # closes idle and slow-header connections, and the slots leave headroom for health checks.
        backpressure=settings.max_connections, backlog=max(1024, settings.max_connections),
        http1_settings=HTTP1Settings(header_read_timeout=max(1, int(settings.idle_timeout * 1000))),
    ).serve()


@main.group()
def users() -> None:
    """Manage user accounts."""


@users.command("add")
@click.argument("name")
@click.option("--fullname", default="")
@click.option("--email", default=None)
@click.option("--admin", is_flag=True, help="A site administrator, with every right on every namespace.")
@click.option("--password", "with_password", is_flag=True,
              help="Set a password for the web sign-in: read from stdin's first line, or asked for on a terminal.")
@_setting_options(_STORE_OPTIONS)
def users_add(name: str, fullname: str, email: str | None, admin: bool, with_password: bool, **opts: Any) -> None:
    password = _read_password() if with_password else None
    try:
        hub = _hub(opts)
        if password is not None:  # checked before the account exists: a weak password creates nothing
            from hubd.hub.signin import check_password_strength

            check_password_strength(password)
        hub.accounts.add_user(name, fullname, email, admin)
        if password is not None:
            hub.signin.set_password(name, password)
    except HubError as exc:
        _fail(exc)
    click.echo(f"user {name} created", err=True)


def _read_password() -> str:
    if sys.stdin.isatty():
        return click.prompt("Password", hide_input=True, confirmation_prompt=True)
    return sys.stdin.readline().rstrip("\r\n")


@users.command("passwd")
@click.argument("name")
@_setting_options(_STORE_OPTIONS)
def users_passwd(name: str, **opts: Any) -> None:
    """Set a user's web sign-in password (stdin's first line, or asked for on a terminal)."""
    try:
        _hub(opts).signin.set_password(name, _read_password())
    except HubError as exc:
        _fail(exc)
    click.echo(f"password of {name} set", err=True)


@users.command("invite")
@_setting_options((*_STORE_OPTIONS, "public_url", "host", "port"))
def users_invite(**opts: Any) -> None:
    """Print a one-time sign-up link (valid 7 days): sign-up is otherwise closed unless an admin opens it."""
    code = _hub(opts).signin.invite(None)
    settings = load_settings({k: opts.get(k) for k in ("public_url", "host", "port")})
    click.echo(f"{settings.base_url}/join?invite={code}")


@users.command("list")
@_setting_options(_STORE_OPTIONS)
def users_list(**opts: Any) -> None:
    """One line a user: name, email, admin, disabled."""
    for u in _hub(opts).accounts.list_users():
        flags = " ".join(f for f, on in (("admin", u["is_admin"]), ("disabled", u["disabled"])) if on)
        click.echo(f"{u['name']}\t{u['email'] or ''}\t{flags}".rstrip())


@users.command("disable")
@click.argument("name")
@_setting_options(_STORE_OPTIONS)
def users_disable(name: str, **opts: Any) -> None:
    """Refuse the user's tokens from the next request on (their repos stay)."""
    try:
        _hub(opts).accounts.set_disabled(name, True)
    except HubError as exc:
        _fail(exc)
    click.echo(f"user {name} disabled", err=True)


@users.command("enable")
@click.argument("name")
@_setting_options(_STORE_OPTIONS)
def users_enable(name: str, **opts: Any) -> None:
    try:
        _hub(opts).accounts.set_disabled(name, False)
    except HubError as exc:
        _fail(exc)
    click.echo(f"user {name} enabled", err=True)


@users.command("delete")
@click.argument("name")
@click.option("--yes", is_flag=True, help="Do not ask: the user's own repos are deleted with them.")
@_setting_options(_STORE_OPTIONS)
def users_delete(name: str, yes: bool, **opts: Any) -> None:
    """Delete a user with their tokens, memberships and the repos in their namespace."""
    if not yes:
        click.confirm(f"Delete {name} and every repo in their namespace?", abort=True)
    try:
        gone = _hub(opts).accounts.delete_user(name)
    except HubError as exc:
        _fail(exc)
    click.echo(f"user {name} deleted with {gone} repos", err=True)


@main.group()
def orgs() -> None:
    """Manage organizations and their members."""


@orgs.command("add")
@click.argument("org")
@click.option("--fullname", default="")
@_setting_options(_STORE_OPTIONS)
def orgs_add(org: str, fullname: str, **opts: Any) -> None:
    try:
        _hub(opts).accounts.add_org(org, fullname)
    except HubError as exc:
        _fail(exc)
    click.echo(f"organization {org} created", err=True)


@orgs.command("add-member")
@click.argument("org")
@click.argument("user")
@click.option("--role", type=click.Choice(["read", "contributor", "write", "admin"]), default="write")
@_setting_options(_STORE_OPTIONS)
def orgs_add_member(org: str, user: str, role: str, **opts: Any) -> None:
    try:
        _hub(opts).accounts.add_member(org, user, role)
    except HubError as exc:
        _fail(exc)
    click.echo(f"{user} is now {role} in {org}", err=True)


@orgs.command("settings")
@click.argument("org")
@click.option("--private-by-default/--public-by-default", default=None,
              help="Whether new repos of the organization are private unless their creator says otherwise.")
@_setting_options(_STORE_OPTIONS)
def orgs_settings(org: str, private_by_default: bool | None, **opts: Any) -> None:
    try:
        if private_by_default is not None:
            _hub(opts).accounts.set_private_by_default(org, private_by_default)
    except HubError as exc:
        _fail(exc)
    click.echo(f"{org}: new repos are {'private' if private_by_default else 'public'} by default", err=True)


@orgs.command("remove-member")
@click.argument("org")
@click.argument("user")
@_setting_options(_STORE_OPTIONS)
def orgs_remove_member(org: str, user: str, **opts: Any) -> None:
    try:
        _hub(opts).accounts.remove_member(org, user)
    except HubError as exc:
        _fail(exc)
    click.echo(f"{user} removed from {org}", err=True)


@main.group()
def tokens() -> None:
    """Manage access tokens."""


@tokens.command("add")
@click.argument("user")
@click.option("--role", type=click.Choice(["read", "write", "fineGrained"]), default="write")
@click.option("--name", default="")
@click.option("--value", default=None, help="Import an existing token (hf_ followed by letters and digits).")
@click.option("--scope", "scopes", multiple=True, metavar="TYPE:NAME=PERM[,PERM]",
              help="Fine-grained: permissions on a user, org or repo, e.g. model:alice/x=repo.content.read,repo.write.")
@click.option("--global", "global_perms", multiple=True, metavar="PERM", help="Fine-grained: a global permission.")
@click.option("--fine-grained-file", type=click.File(), default=None,
              help="Fine-grained: the Hub's fineGrained object as a JSON file (scoped, global, canReadGatedRepos).")
@click.option("--expires-in-days", type=float, default=None, help="The token stops working after this many days.")
@_setting_options(_STORE_OPTIONS)
def tokens_add(user: str, role: str, name: str, value: str | None, scopes: tuple[str, ...],
               global_perms: tuple[str, ...], fine_grained_file: Any, expires_in_days: float | None,
               **opts: Any) -> None:
    """Create a token and print it on stdout."""
    import json
    import time

    fine: dict | None = json.load(fine_grained_file) if fine_grained_file else None
    if scopes or global_perms:
        fine = fine or {}
        for spec in scopes:
            entity, _, perms = spec.partition("=")
            kind, _, target = entity.partition(":")
            fine.setdefault("scoped", []).append({"entity": {"type": kind, "name": target},
                                                  "permissions": [x for x in perms.split(",") if x]})
        fine["global"] = [*fine.get("global", []), *global_perms]
    if fine is not None:
        role = "fineGrained"
    expires = time.time() + expires_in_days * 86400 if expires_in_days else None
    try:
        token = _hub(opts).accounts.add_token(user, role, name, value, fine, expires)
    except HubError as exc:
        _fail(exc)
    click.echo(token)


@tokens.command("list")
@click.option("--user", default=None, help="Only this user's tokens.")
@_setting_options(_STORE_OPTIONS)
def tokens_list(user: str | None, **opts: Any) -> None:
    """One line a token: id, user, name, role (the secret itself is never stored)."""
    for t in _hub(opts).accounts.list_tokens(user):
        click.echo(f"{t['id']}\t{t['user']}\t{t['name']}\t{'fineGrained' if t['scopes'] else t['role']}")


@tokens.command("revoke")
@click.argument("token_id", type=int)
@_setting_options(_STORE_OPTIONS)
def tokens_revoke(token_id: int, **opts: Any) -> None:
    """Revoke a token by the id `hubd tokens list` shows; it is refused from the next request on."""
    try:
        _hub(opts).accounts.revoke_token(token_id)
    except HubError as exc:
        _fail(exc)
    click.echo(f"token {token_id} revoked", err=True)


@main.group()
def db() -> None:
    """Manage the metadata database schema."""


@db.command("upgrade")
@_setting_options(_STORE_OPTIONS)
def db_upgrade(**opts: Any) -> None:
    """Migrate the database to the newest schema (hubd serve does this too; run it once before replicas)."""
    from hubd.db.engine import Database

    settings = load_settings({k: opts.get(k) for k in _STORE_OPTIONS})
    database = Database(settings.db_url)
    database.create_schema()
    click.echo(f"database at the newest schema: {database.engine.url.render_as_string(hide_password=True)}")


@main.command("fsck")
@_setting_options(_STORE_OPTIONS)
def fsck_command(**opts: Any) -> None:
    """Check that every object reachable from every ref is present and intact."""
    from hubd.hub.fsck import fsck

    report = fsck(_hub(opts))
    for problem in report.problems:
        click.echo(f"problem: {problem}")
    click.echo(f"checked {report.refs} refs, {report.objects} git objects, {report.lfs_objects} LFS objects, "
               f"{report.xet_files} Xet files: "
               f"{len(report.problems)} problems")
    sys.exit(1 if report.problems else 0)


@main.command("gc")
@click.option("--grace-hours", type=float, default=24.0, show_default=True,
              help="Keep unreferenced content younger than this (uploads still in progress).")
@click.option("--dry-run", is_flag=True, help="Report what would be deleted, delete nothing.")
@_setting_options(_STORE_OPTIONS)
def gc_command(grace_hours: float, dry_run: bool, **opts: Any) -> None:
    """Delete stored content that no ref, commit or upload can reach any more."""
    from hubd.hub.gc import gc

    report = gc(_hub(opts), grace_hours * 3600, dry_run)
    verb = "would delete" if dry_run else "deleted"
    click.echo(f"{report.live_objects} live objects; {verb} {report.deleted} unreferenced "
               f"({report.deleted_bytes} bytes); kept {report.kept_young} younger than the grace period")


_MIRROR_OPTIONS = (*_STORE_OPTIONS, "upstream_url", "upstream_token", "upstream_token_keys", "mirror",
                   "mirror_cache_mib")


def _mirror_hub(opts: dict[str, Any]):
    from hubd.hub.service import open_hub

    opts["mirror"] = ",".join(opts.get("mirror") or ()) or None
    hub = open_hub(load_settings({k: opts.get(k) for k in _MIRROR_OPTIONS}))
    if hub.mirror is None:
        click.echo("error: no upstream: give --upstream-url (or HUBD_UPSTREAM_URL)", err=True)
        sys.exit(1)
    return hub


@main.group()
def mirror() -> None:
    """The pull-through mirror of an upstream hub: pinned snapshots and the cache."""


@mirror.command("pin")
@click.argument("repo_id")
@click.option("--revision", default="main", show_default=True, help="Branch, tag or commit to prefetch.")
@click.option("--repo-type", type=click.Choice(["model", "dataset", "space"]), default="model", show_default=True)
@_setting_options(_MIRROR_OPTIONS)
def mirror_pin(repo_id: str, revision: str, repo_type: str, **opts: Any) -> None:
    """Prefetch REPO_ID at one commit and keep it through gc and eviction."""
    from hubd.mirror.cache import pin_snapshot

    try:
        sha, files, nbytes = pin_snapshot(_mirror_hub(opts), repo_type, repo_id, revision)
    except HubError as exc:
        _fail(exc)
        return
    click.echo(f"pinned {repo_id}@{revision} = {sha} ({files} files, {nbytes} bytes fetched)")


@mirror.command("status")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per repo.")
@_setting_options(_MIRROR_OPTIONS)
def mirror_status(as_json: bool, **opts: Any) -> None:
    """Mirrored repos: their head, cached bytes, pins and last use."""
    import json

    from hubd.mirror.cache import status

    rows = status(_mirror_hub(opts))
    for row in rows:
        if as_json:
            click.echo(json.dumps(row))
        else:
            click.echo(f"{row['id']}\t{row['head']}\t{row['cached_bytes']} bytes\t"
                       f"pins: {', '.join(row['pins']) or '-'}")
    total = sum(r["cached_bytes"] for r in rows)
    click.echo(f"{len(rows)} mirrored repos, {total} bytes cached", err=True)


@mirror.command("rotate-tokens")
@_setting_options(_MIRROR_OPTIONS)
def mirror_rotate_tokens(**opts: Any) -> None:
    """Re-encrypt users' linked upstream tokens under the first of --upstream-token-keys (the others may
    then be dropped)."""
    hub = _mirror_hub(opts)
    if not hub.mirror.box.configured:
        click.echo("error: no keys: give --upstream-token-keys (or HUBD_UPSTREAM_TOKEN_KEYS)", err=True)
        sys.exit(1)
    try:
        changed = hub.mirror.rotate_tokens()
    except HubError as exc:
        _fail(exc)
        return
    click.echo(f"re-encrypted {changed} upstream tokens under the first key")


if __name__ == "__main__":
    main()

"""One settings object: flags > env HUBD_* > defaults."""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass
from pathlib import Path

from hubd.clientaddr import parse_networks

MiB = 1024 * 1024


@dataclass(frozen=True)
class Setting:
    name: str
    type: type
    default: object
    help: str


SETTINGS: tuple[Setting, ...] = (
    Setting("host", str, "127.0.0.1", "Address to listen on."),
    Setting("port", int, 8000, "Port to listen on."),
    Setting("data_dir", str, "./hubd-data", "Directory for the SQLite database and local blob storage."),
    Setting("public_url", str, "", "Base URL used in every URL hubd returns (default: http://HOST:PORT)."),
    Setting("database_url", str, "", "SQLAlchemy URL of the metadata database (default: SQLite in data_dir)."),
    Setting("storage_url", str, "", "Where blobs live: file:///path (default: data_dir/storage)."),
    Setting("storage_proxy", int, 0,
            "1: stream S3 blobs through hubd instead of redirecting clients to presigned URLs."),
    Setting("accel_redirect", str, "",
            "Behind nginx: answer downloads of locally stored files with X-Accel-Redirect to this internal "
            "location prefix (e.g. /_hubd_storage/, aliased to the storage directory); empty: hubd sends them."),
    Setting("trusted_proxies", str, "",
            "Reverse proxies in front of hubd, as comma-separated addresses or CIDR networks (e.g. "
            "'127.0.0.1,10.0.0.0/8'): for a request from one of them, the client is the nearest address in "
            "X-Forwarded-For that is not itself one (sign-in throttling counts per client); empty: the peer."),
    Setting("lfs_threshold", int, 10 * MiB, "Files of at least this many bytes are uploaded as LFS."),
    Setting("lfs_multipart_threshold", int, 4096 * MiB, "LFS uploads above this size use multipart."),
    Setting("lfs_chunk_size", int, 512 * MiB, "Part size of multipart LFS uploads."),
    Setting("workers", int, 1, "Number of server worker processes."),
    Setting("log_level", str, "info", "Log level of the server."),
    Setting("max_connections", int, 1024,
            "Connections one worker holds open at once, idle ones included; more wait in the listen backlog."),
    Setting("idle_timeout", float, 20.0,
            "Seconds a connection may take to send a request's headers, from its opening or its previous "
            "response; a connection idle for longer is closed."),
    Setting("body_timeout", float, 30.0,
            "Seconds hubd waits for the next piece of a request body before answering 408."),
    Setting("body_min_rate", int, 1024,
            "Bytes per second a request body must average, counted over the time hubd waits for it beyond the "
            "first body-timeout seconds; a slower body is answered 408 (0: no minimum)."),
    Setting("json_body_timeout", float, 60.0,
            "Seconds a JSON or form body (read whole into memory) may take to arrive in full."),
    Setting("xet_cache_mib", int, 32,
            "Memory one worker may give to its Xet caches (xorb indexes, reconstructions, decoded chunks), in MiB."),
    Setting("viewer_cache_mib", int, 4096,
            "Disk the viewer may use for local copies of parquet shards read from object storage (MiB); least "
            "recently used copies are evicted beyond it."),
    Setting("webhook_targets", str, "public",
            "Where webhooks may be delivered: 'public' (globally routable addresses) and/or CIDR networks, "
            "comma-separated (e.g. 'public,10.1.0.0/16'; '127.0.0.0/8' lets tests reach loopback)."),
    Setting("webhook_timeout", float, 10.0, "Seconds a webhook receiver has to answer one delivery."),
    Setting("git_force_push", str, "",
            "Where a forced (non-fast-forward) git push may move a branch, for users with write access: "
            "comma-separated BRANCH patterns (every repo) or REPO:BRANCH patterns, repos as in their URL "
            "(e.g. 'scratch-*', 'alice/*:*', 'datasets/acme/*:dev'); empty: never. Tags never move."),
    Setting("upstream_url", str, "", "Upstream hub to mirror (e.g. https://huggingface.co); empty: no mirror."),
    Setting("upstream_token", str, "", "Service token for the upstream, used for users with no linked token."),
    Setting("upstream_token_keys", str, "",
            "Fernet keys encrypting users' linked upstream tokens at rest, comma-separated: the first encrypts, "
            "all decrypt (add a new key first, run `hubd mirror rotate-tokens`, then drop the old one). "
            "Empty: users cannot link upstream tokens."),
    Setting("mirror", str, "", "Comma-separated patterns of repos to mirror (meta-llama/*, datasets/*); "
            "empty: every repo not hosted locally."),
    Setting("upstream_ttl", float, 30.0, "Seconds a branch or tag resolved upstream is trusted before asking again."),
    Setting("mirror_cache_mib", int, 0, "Limit of the mirror's filled objects (MiB), LRU-evicted; 0: no limit."),
    Setting("oidc_issuer", str, "", "OpenID Connect issuer URL for single sign-on (empty: password sign-in only)."),
    Setting("oidc_client_id", str, "", "Client id hubd has at the OpenID Connect provider."),
    Setting("oidc_client_secret", str, "", "Client secret hubd has at the OpenID Connect provider."),
    Setting("oidc_groups_claim", str, "groups", "ID token or userinfo claim listing the person's groups."),
    Setting("oidc_group_roles", str, "",
            "Groups mapped to org roles at each SSO sign-in: 'group=org:role,...' "
            "(roles read|contributor|write|admin)."),
)


@dataclass(frozen=True)
class Settings:
    """The settings in force; their types, defaults and help are in SETTINGS (one source)."""

    host: str
    port: int
    data_dir: str
    public_url: str
    database_url: str
    storage_url: str
    storage_proxy: int
    accel_redirect: str
    trusted_proxies: str
    lfs_threshold: int
    lfs_multipart_threshold: int
    lfs_chunk_size: int
    workers: int
    log_level: str
    max_connections: int
    idle_timeout: float
    body_timeout: float
    body_min_rate: int
    json_body_timeout: float
    xet_cache_mib: int
    viewer_cache_mib: int
    webhook_targets: str
    webhook_timeout: float
    git_force_push: str
    upstream_url: str
    upstream_token: str
    upstream_token_keys: str
    mirror: str
    upstream_ttl: float
    mirror_cache_mib: int
    oidc_issuer: str
    oidc_client_id: str
    oidc_client_secret: str
    oidc_groups_claim: str
    oidc_group_roles: str

    @property
    def base_url(self) -> str:
        return (self.public_url or f"http://{self.host}:{self.port}").rstrip("/")

    @property
    def db_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{Path(self.data_dir).resolve() / 'hubd.db'}"

    @property
    def blob_url(self) -> str:
        if self.storage_url:
            return self.storage_url
        return f"file://{Path(self.data_dir).resolve() / 'storage'}"

    def to_env(self) -> dict[str, str]:
        """Environment that lets a child process (a server worker) rebuild these settings."""
        return {f"HUBD_{s.name.upper()}": str(getattr(self, s.name)) for s in SETTINGS}


def _coerce(setting: Setting, raw: object) -> object:
    if setting.type is int:
        try:
            return int(raw)  # type: ignore[call-overload]
        except (TypeError, ValueError):
            raise ValueError(f"setting {setting.name}: {raw!r} is not a whole number") from None
    if setting.type is float:
        try:
            value = float(raw)  # type: ignore[arg-type]
        except (TypeError, ValueError):
            raise ValueError(f"setting {setting.name}: {raw!r} is not a number") from None
        if not 0 < value < 86400:  # a timeout of zero, a negative one or NaN would disable the limit
            raise ValueError(f"setting {setting.name}: {raw!r} must be between 0 and 86400 seconds")
        return value
    return str(raw)


def load_settings(overrides: dict[str, object] | None = None, env: dict[str, str] | None = None) -> Settings:
    env = dict(os.environ) if env is None else env
    values: dict[str, object] = {}
    for s in SETTINGS:
        raw: object = s.default
        env_value = env.get(f"HUBD_{s.name.upper()}")
        if env_value not in (None, ""):
            raw = env_value
        if overrides and overrides.get(s.name) is not None:
            raw = overrides[s.name]
        values[s.name] = _coerce(s, raw)
    parse_networks(str(values["trusted_proxies"]))  # a typo in a network fails at start, not per request
    names = {f.name for f in dataclasses.fields(Settings)}
    assert set(values) == names, set(values) ^ names
    return Settings(**values)  # type: ignore[arg-type]

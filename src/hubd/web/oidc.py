"""Company single sign-on: OpenID Connect authorization-code flow with PKCE against any standard provider.

authlib builds the authorization request (state, nonce, S256 code challenge) and exchanges the code;
joserfc checks the ID token's signature against the provider's published keys and its claims (issuer,
audience, expiry, nonce). The flow's secrets wait in a short-lived signed cookie, so any replica can take
the callback."""

from __future__ import annotations

import json
import secrets
import threading
import time
from typing import Any

import httpx
from authlib.integrations.httpx_client import OAuth2Client
from itsdangerous import BadSignature, URLSafeTimedSerializer
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet
from starlette.responses import Response

from hubd.api.http import Ctx
from hubd.hub.access import ROLE_ORDER
from hubd.hub.errors import BadRequest, HubError, NotFound, Unauthorized
from hubd.hub.service import Hub
from hubd.web import render
from hubd.web.account import _signed_in
from hubd.web.base import page, safe_next
from hubd.web.session import cookie_args

FLOW_COOKIE = "hubd_oidc"
FLOW_TTL = 600
DISCOVERY_TTL = 3600
HTTP_TIMEOUT = 10.0
_discovery: dict[str, tuple[float, dict, KeySet]] = {}
_lock = threading.Lock()


def enabled(hub: Hub) -> bool:
    s = hub.settings
    return bool(getattr(s, "oidc_issuer", "") and getattr(s, "oidc_client_id", ""))


def _provider(hub: Hub) -> tuple[dict, KeySet]:
    """The provider's metadata and signing keys (/.well-known/openid-configuration, then jwks_uri), cached."""
    issuer = hub.settings.oidc_issuer.rstrip("/")
    with _lock:
        cached = _discovery.get(issuer)
    if cached and cached[0] > time.time():
        return cached[1], cached[2]
    try:
        meta = httpx.get(issuer + "/.well-known/openid-configuration", timeout=HTTP_TIMEOUT).raise_for_status().json()
        keys = KeySet.import_key_set(httpx.get(meta["jwks_uri"], timeout=HTTP_TIMEOUT).raise_for_status().json())
    except (httpx.HTTPError, ValueError, KeyError, JoseError) as exc:
        raise OidcUnavailable(f"The sign-in provider could not be reached: {exc}") from None
    if meta.get("issuer", "").rstrip("/") != issuer:
        raise OidcUnavailable("The sign-in provider names another issuer than the one configured")
    with _lock:
        _discovery[issuer] = (time.time() + DISCOVERY_TTL, meta, keys)
    return meta, keys


class OidcUnavailable(HubError):
    status = 502
    code = "OidcUnavailable"
    default_message = "The single sign-on provider is unavailable"


def _client(hub: Hub) -> OAuth2Client:
    s = hub.settings
    return OAuth2Client(client_id=s.oidc_client_id, client_secret=s.oidc_client_secret or None,
                        scope="openid email profile", redirect_uri=f"{s.base_url}/oauth/oidc/callback",
                        code_challenge_method="S256", timeout=HTTP_TIMEOUT)


def _flow_serializer(hub: Hub) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(hub.signing_key, salt="hubd-oidc-flow")


@page
async def start(ctx: Ctx) -> Response:
    hub = ctx.hub
    if not enabled(hub):
        raise NotFound("Single sign-on is not configured")
    meta, _keys = await ctx.run(_provider, hub)
    flow = {"state": secrets.token_urlsafe(24), "nonce": secrets.token_urlsafe(24),
            "verifier": secrets.token_urlsafe(48), "next": safe_next(ctx.request.query_params.get("next"))}
    with _client(hub) as client:
        url, _state = client.create_authorization_url(meta["authorization_endpoint"], state=flow["state"],
                                                      code_verifier=flow["verifier"], nonce=flow["nonce"])
    response = render.redirect(url)
    response.set_cookie(FLOW_COOKIE, _flow_serializer(hub).dumps(flow), **cookie_args(hub, FLOW_TTL))
    return response


@page
async def callback(ctx: Ctx) -> Response:
    hub = ctx.hub
    if not enabled(hub):
        raise NotFound("Single sign-on is not configured")
    qp = ctx.request.query_params
    if error := qp.get("error"):
        raise Unauthorized(f"The sign-in provider refused: {error[:100]}")
    try:
        flow = _flow_serializer(hub).loads(ctx.request.cookies.get(FLOW_COOKIE, ""), max_age=FLOW_TTL)
    except BadSignature:
        raise BadRequest("The sign-in expired or did not start here; try again") from None
    state, code = qp.get("state", ""), qp.get("code", "")
    if not code or len(code) > 2048 or not secrets.compare_digest(state.encode(), flow["state"].encode()):
        raise BadRequest("The sign-in answer does not match its request; try again")
    user_id = await ctx.run(_finish, hub, code, flow)
    response = await ctx.run(_signed_in, ctx, user_id, flow["next"])
    response.delete_cookie(FLOW_COOKIE, path="/")
    return response


def _finish(hub: Hub, code: str, flow: dict) -> int:
    """Exchange the code (with the PKCE verifier), check the ID token, and find or create the user."""
    meta, keys = _provider(hub)
    try:
        with _client(hub) as client:
            token = client.fetch_token(meta["token_endpoint"], code=code, code_verifier=flow["verifier"])
    except Exception as exc:  # noqa: BLE001 - authlib raises OAuthError and httpx errors alike
        raise Unauthorized(f"The sign-in provider did not accept the code: {str(exc)[:200]}") from None
    claims = _id_claims(hub, token.get("id_token", ""), keys, flow["nonce"], meta)
    if "email" not in claims or "preferred_username" not in claims or _groups_claim(hub) not in claims:
        claims = {**_userinfo(meta, token.get("access_token", "")), **claims}
    s = hub.signin
    user_id = s.oidc_user(str(meta["issuer"]), str(claims["sub"]),
                          str(claims.get("preferred_username") or str(claims.get("email", "")).split("@")[0]
                              or claims["sub"]),
                          str(claims["email"])[:256] if claims.get("email") else None, str(claims.get("name") or ""))
    if s.is_disabled(user_id):
        raise Unauthorized("This account is disabled")
    _map_groups(hub, user_id, claims.get(_groups_claim(hub)))
    return user_id


def _id_claims(hub: Hub, id_token: str, keys: KeySet, nonce: str, meta: dict) -> dict[str, Any]:
    if not id_token:
        raise Unauthorized("The sign-in provider sent no ID token")
    try:
        decoded = jwt.decode(id_token, keys, algorithms=meta.get("id_token_signing_alg_values_supported") or ["RS256"])
        registry = jwt.JWTClaimsRegistry(iss={"essential": True, "value": meta["issuer"]},
                                         aud={"essential": True, "value": hub.settings.oidc_client_id},
                                         sub={"essential": True}, exp={"essential": True},
                                         nonce={"essential": True, "value": nonce})
        registry.validate(decoded.claims)
    except (JoseError, ValueError) as exc:
        raise Unauthorized(f"The ID token is not valid: {exc}") from None
    return dict(decoded.claims)


def _userinfo(meta: dict, access_token: str) -> dict[str, Any]:
    if not meta.get("userinfo_endpoint") or not access_token:
        return {}
    try:
        r = httpx.get(meta["userinfo_endpoint"], headers={"authorization": f"Bearer {access_token}"},
                      timeout=HTTP_TIMEOUT)
        return r.json() if r.status_code == 200 else {}
    except (httpx.HTTPError, json.JSONDecodeError):
        return {}


def _groups_claim(hub: Hub) -> str:
    return getattr(hub.settings, "oidc_groups_claim", "") or "groups"


def group_roles(spec: str) -> dict[str, tuple[str, str]]:
    """--oidc-group-roles 'ml-team=acme:write,admins=acme:admin' → {group: (org, role)}."""
    out: dict[str, tuple[str, str]] = {}
    for item in filter(None, (x.strip() for x in spec.split(","))):
        group, _, target = item.partition("=")
        org, _, role = target.partition(":")
        if group and org and role in ROLE_ORDER:
            out[group] = (org, role)
    return out


def _map_groups(hub: Hub, user_id: int, groups: object) -> None:
    """Org memberships from the provider's groups claim, at each sign-in (only the orgs the mapping names)."""
    mapping = group_roles(getattr(hub.settings, "oidc_group_roles", "") or "")
    if not mapping or not isinstance(groups, list):
        return
    user = hub.accounts.name_of(user_id)
    best: dict[str, str] = {}
    for group in groups:
        if isinstance(group, str) and group in mapping:
            org, role = mapping[group]
            if ROLE_ORDER[role] > ROLE_ORDER.get(best.get(org, ""), 0):
                best[org] = role
    for org, role in best.items():
        try:
            hub.accounts.add_member(org, user, role)
        except HubError:
            continue  # an org the mapping names but the hub does not have

"""Home, the listings with the API's filters as facets, and profiles of users and organizations."""

from __future__ import annotations

from urllib.parse import urlencode

from starlette.responses import Response

from hubd.api.http import Ctx
from hubd.hub.access import ROLE_ORDER
from hubd.hub.errors import BadRequest, Forbidden, HubError, NotFound
from hubd.hub.listing import SORTS, ListQuery
from hubd.hub.names import PLURAL_TO_TYPE
from hubd.web.base import form, page, require_user, view

PAGE_SIZE = 30
MAX_FIELD = 200
SORT_LABELS = {"trendingScore": "Trending", "downloads": "Most downloads", "likes": "Most likes",
               "lastModified": "Recently updated", "createdAt": "Recently created"}


def _field(ctx: Ctx, name: str) -> str:
    value = (ctx.request.query_params.get(name) or "").strip()
    if len(value) > MAX_FIELD or any(ord(c) < 32 for c in value):
        raise BadRequest(f"{name} is too long or holds control characters")
    return value


@page
async def listing(ctx: Ctx) -> Response:
    plural = ctx.params["types"]
    f = {k: _field(ctx, k) for k in ("search", "author", "tags", "pipeline_tag", "library", "sort", "cursor")}
    sort = f["sort"] if f["sort"] in SORTS else "trendingScore"
    q = ListQuery(repo_type=PLURAL_TO_TYPE[plural], search=[f["search"]] if f["search"] else [],
                  author=f["author"] or None, tags=[t for t in (f["tags"], f["pipeline_tag"], f["library"]) if t],
                  sort=sort, limit=PAGE_SIZE, cursor=f["cursor"] or None)
    items, cursor = await ctx.run(ctx.hub.listings.page, ctx.principal, q, True)
    keep = {k: v for k, v in f.items() if v and k != "cursor"}
    next_url = f"/{plural}?" + urlencode({**keep, "cursor": cursor}) if cursor else None
    first_url = f"/{plural}?" + urlencode(keep) if f["cursor"] else None
    return view(ctx, "listing.html", plural=plural, items=items, f=f, sort=sort, sorts=SORT_LABELS,
                next_url=next_url, first_url=first_url)


@page
async def home(ctx: Ctx) -> Response:
    def build() -> dict:
        sections = []
        for plural in ("models", "datasets", "spaces"):
            for sort, label in (("downloads", "Most downloaded"), ("lastModified", "Recently updated")):
                q = ListQuery(repo_type=PLURAL_TO_TYPE[plural], sort=sort, limit=6)
                items, _ = ctx.hub.listings.page(ctx.principal, q)
                sections.append({"title": f"{label} {plural}", "repos": items, "plural": plural, "sort": sort})
        return {"sections": sections}

    return view(ctx, "home.html", **await ctx.run(build))


@page
async def profile(ctx: Ctx) -> Response:
    hub = ctx.hub
    name = ctx.params["account"]
    account = await ctx.run(hub.accounts.account, name)
    if account is None:
        raise NotFound("No such account")
    is_org = account["kind"] == "org"
    error = None
    p = ctx.principal
    may_manage = p is not None and is_org and p.namespace_role(name) == "admin"
    if ctx.request.method == "POST":
        require_user(ctx)
        fields = await form(ctx)
        if not may_manage:
            raise Forbidden("Only the organization's admins manage its members")
        try:
            member = fields.get("member", "").strip()
            if fields.get("action") == "remove":
                await ctx.run(hub.accounts.remove_member, name, member)
            else:
                role = fields.get("role", "read")
                if role not in ROLE_ORDER:
                    raise BadRequest("Unknown role")
                await ctx.run(hub.accounts.add_member, name, member, role)
        except HubError as exc:
            error = exc.message

    def build() -> dict:
        repos = {}
        for plural in ("models", "datasets", "spaces"):
            q = ListQuery(repo_type=PLURAL_TO_TYPE[plural], author=name, sort="lastModified", limit=50)
            repos[plural] = hub.listings.page(p, q)[0]
        people = hub.accounts.members(account["id"]) if is_org else []
        orgs = hub.accounts.orgs_of(account["id"]) if not is_org else []
        return {"repos": repos, "members": people, "orgs": orgs}

    return view(ctx, "profile.html", 400 if error else 200, account=account, is_org=is_org,
                may_manage=may_manage, roles=list(ROLE_ORDER), error=error, **await ctx.run(build))

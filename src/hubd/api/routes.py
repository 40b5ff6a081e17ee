"""Every route hubd serves, matched on the raw (undecoded) path in this order."""

from __future__ import annotations

from hubd.api import (
    access,
    avatars,
    browse,
    discovery,
    discussions,
    duplicate,
    files,
    history,
    lfs,
    listing,
    ops,
    repos,
    tokens,
    unscoped,
    upload,
    users,
    viewer,
    webhooks,
    xet,
)
from hubd.api import collections as collections_api
from hubd.api import gating as gating_api
from hubd.api import git as git_http
from hubd.api.http import Router
from hubd.mirror import api as mirror_api

REPO = repos.REPO


# What each route needs (tests/e2e/test_route_access.py checks every route against its rule):
#   public       no account, no repo            user        a signed-in user, no repo
#   signed       a signed URL or a Xet token (checked by the handler against what it grants)
#   read         see the repo (private: members only)       download    read its content (gated: granted)
#   pr           upload content, open or update pull requests: any signed-in user with a write token who may
#                download the repo (gated: granted); commits go to refs/pr/N only, never to a branch
#   contributor  commit to its branches (contributors only in repos they created)
#   write        delete, move, settings, delete refs        write-body  as write, the repo named in the body
#   user-read    a signed-in user who can see the repo (likes, asking for access to a gated repo)
#   discuss      a signed-in user with a write token who can see the repo (open, comment; the handler lets
#                only a comment's author edit it, its author or writers hide it)
#   discussion-author  the discussion's author (write token) or whoever may commit to the repo's branches
#   create-from  a signed-in user with a write token who may download the repo (copies out of it)
#   page         a web page (HTML): its handler applies the repo's rules (private = missing = the 404 page)
#   form         a web form POST: needs the form's CSRF token; its handler applies the rules as a page does
ACCESS = ("public", "user", "signed", "read", "download", "pr", "contributor", "write", "write-body", "user-read",
          "create-from", "page", "form", "discuss", "discussion-author")


def build_router() -> Router:
    r = Router()
    r.add("/healthz", "public", get=ops.healthz)
    r.add("/readyz", "public", get=ops.readyz)
    r.add("/metrics", "public", get=ops.metrics)
    r.add("/api/whoami-v2", "user", get=users.whoami)
    r.add("/api/agent-harnesses", "public", get=users.agent_harnesses)
    r.add("/avatars/(?P<name>[^/]+)\\.svg", "public", get=avatars.avatar)
    r.add("/api/validate-yaml", "public", post=upload.validate_yaml)
    r.add("/api/repos/create", "user", post=repos.create_repo)
    r.add("/api/repos/delete", "write-body", delete=repos.delete_repo)
    r.add("/api/repos/move", "write-body", post=repos.move_repo)
    r.add(listing.LISTING, "public", get=listing.list_repos_route)
    r.add("/api/models-tags-by-type", "public", get=discovery.models_tags_by_type)
    r.add("/api/datasets-tags-by-type", "public", get=discovery.datasets_tags_by_type)
    r.add("/api/metrics", "public", get=discovery.metrics)
    r.add("/api/users/(?P<user>[^/]+)/likes", "public", get=discovery.user_likes)
    r.add(f"/api/{REPO}/like", "user-read", post=discovery.like, delete=discovery.like)
    r.add(f"/api/{REPO}/likers", "read", get=discovery.likers)
    ds = "/api/datasets/(?P<ns>[^/]+)/(?P<name>[^/]+)/parquet"
    r.add(ds, "download", get=viewer.api_parquet)
    r.add(ds + "/(?P<config>[^/]+)/(?P<split>[^/]+)", "download", get=viewer.api_parquet_split)
    r.add(ds + "/(?P<config>[^/]+)/(?P<split>[^/]+)/(?P<n>[0-9]+)\\.parquet", "download",
          get=viewer.api_parquet_shard)
    for name in ("is-valid", "splits", "first-rows", "rows", "search", "filter", "info", "size", "statistics",
                 "parquet"):
        r.add(f"/viewer/{name}", "download", get=getattr(viewer, "viewer_" + name.replace("-", "_")))
    r.add(f"/api/{REPO}/settings", "write", put=repos.update_settings)
    r.add(f"/api/{REPO}/duplicate", "create-from", post=duplicate.duplicate_repo)
    r.add(f"/api/{REPO}/auth-check", "download", get=access.auth_check)
    r.add(f"/api/{REPO}/auth-check(?P<write>/write)", "contributor", get=access.auth_check)
    r.add("/api/settings/repositories", "user", get=access.repositories)
    r.add("/api/settings/tokens", "user", get=tokens.listing, post=tokens.create)
    r.add("/api/settings/tokens/(?P<token_id>[^/]+)", "user", delete=tokens.revoke)
    r.add("/api/settings/webhooks", "user", get=webhooks.collection, post=webhooks.collection)
    r.add(f"/api/settings/webhooks/{webhooks.HOOK}", "user", get=webhooks.one, post=webhooks.one, delete=webhooks.one)
    r.add(f"/api/settings/webhooks/{webhooks.HOOK}/enable", "user", post=webhooks.enable)
    r.add(f"/api/settings/webhooks/{webhooks.HOOK}/disable", "user", post=webhooks.disable)
    r.add(f"/api/settings/webhooks/{webhooks.HOOK}/deliveries", "user", get=webhooks.deliveries)
    # collections: reads are public (a private one answers as missing), changes need its namespace's writer
    slug = "/api/collections/" + collections_api.SLUG
    r.add("/api/collections", {"get": "public", "post": "user"}, get=collections_api.listing,
          post=collections_api.create)
    r.add(slug, {"get": "public", "patch": "user", "delete": "user"}, get=collections_api.get,
          patch=collections_api.update, delete=collections_api.delete)
    r.add(slug + "/items", "user", post=collections_api.add_item)
    r.add(slug + "/items/(?P<item>[^/]+)", "user", patch=collections_api.item, delete=collections_api.item)
    r.add(f"/api/{REPO}/super-squash/(?P<rev>[^/]+)", "write", post=history.super_squash)
    r.add(f"/api/{REPO}/lfs-files", "write", get=history.lfs_files)
    r.add(f"/api/{REPO}/lfs-files/batch", "write", post=history.delete_lfs_files)
    r.add("/api/settings/mirror/upstream-token", "user", get=mirror_api.upstream_token,  # hubd.mirror
          put=mirror_api.upstream_token, delete=mirror_api.upstream_token)
    r.add("/api/organizations/(?P<org>[^/]+)/settings/repositories", "user", get=access.repositories)
    r.add(f"/api/{REPO}/lfs-files/duplicate", "create-from", post=duplicate.duplicate_lfs_files)
    # an id without namespace: no such repo can exist, so this answers RepoNotFound to everyone
    r.add(f"/api/{repos.TYPES}/(?P<name>[^/]+)/settings", "public", put=repos.update_settings)
    r.add(f"/api/{REPO}", "read", get=repos.repo_info)
    r.add(f"/api/{REPO}/revision/(?P<rev>[^/]+)", "read", get=repos.repo_info)
    r.add(f"/api/{REPO}/tree/(?P<rev>[^/]+)(?:/(?P<path>.*))?", "read", get=browse.tree)
    r.add(f"/api/{REPO}/paths-info/(?P<rev>[^/]+)", "read", post=browse.paths_info)
    r.add(f"/api/{REPO}/refs", "read", get=browse.list_refs)
    r.add(f"/api/{REPO}/commits/(?P<rev>[^/]+)", "read", get=browse.list_commits)
    r.add(f"/api/{REPO}/branch/(?P<ref>[^/]+)", {"post": "contributor", "delete": "write"},
          post=browse.create_branch, delete=browse.delete_branch)
    r.add(f"/api/{REPO}/tag/(?P<ref>[^/]+)", {"post": "contributor", "delete": "write"},
          post=browse.create_tag, delete=browse.delete_tag)
    r.add(f"/api/{REPO}/preupload/(?P<rev>[^/]+)", "pr", post=upload.preupload)
    r.add(f"/api/{REPO}/commit/(?P<rev>[^/]+)", "contributor", post=upload.commit)  # "pr" with create_pr=1
    r.add(f"/api/{REPO}/discussions", {"get": "read", "post": "discuss"}, get=discussions.listing,
          post=discussions.create)
    dn = f"/api/{REPO}/discussions/(?P<num>[0-9]+)"
    r.add(dn, "read", get=discussions.details)
    r.add(dn + "/comment", "discuss", post=discussions.comment)
    r.add(dn + "/comment/(?P<comment>[0-9a-f]{24})/edit", "discuss", post=discussions.edit_comment)
    r.add(dn + "/comment/(?P<comment>[0-9a-f]{24})/hide", "discuss", post=discussions.hide_comment)
    r.add(dn + "/title", "discussion-author", post=discussions.rename)
    r.add(dn + "/status", "discussion-author", post=discussions.status)
    r.add(dn + "/merge", "contributor", post=discussions.merge)
    ar = f"/api/{REPO}/user-access-request"
    r.add(ar + "/(?P<status>pending|accepted|rejected)", "write", get=gating_api.list_requests)
    r.add(ar + "/handle", "write", post=gating_api.handle)
    r.add(ar + "/grant", "write", post=gating_api.grant)
    r.add("/api/lfs/objects/(?P<oid>[0-9a-f]{64})", "signed", put=lfs.put_object, get=lfs.get_object)
    r.add("/api/lfs/objects/(?P<oid>[0-9a-f]{64})/multipart/(?P<upload_id>[0-9a-f]{32})", "signed",
          post=lfs.complete_multipart)
    r.add("/api/lfs/objects/(?P<oid>[0-9a-f]{64})/multipart/(?P<upload_id>[0-9a-f]{32})/(?P<part>[0-9]{1,5})",
          "signed", put=lfs.put_part)
    r.add(f"/api/{REPO}/xet-(?P<mode>read)-token/(?P<rev>[^/]+)", "download", get=xet.token)
    r.add(f"/api/{REPO}/xet-(?P<mode>write)-token/(?P<rev>[^/]+)", "pr", get=xet.token)
    cas, h = xet.CAS_PREFIX, "(?P<hash>[0-9a-fA-F]{64})"
    r.add(f"{cas}/v1/xorbs/[^/]+/{h}", "signed", post=xet.upload_xorb)
    r.add(f"{cas}/v1/shards", "signed", post=xet.upload_shard)
    r.add(f"{cas}/v1/telemetry", "signed", post=xet.telemetry)
    r.add(f"{cas}/v1/chunks/[^/]+/{h}", "signed", get=xet.chunk_query)
    r.add(f"{cas}/(?P<version>v1|v2)/reconstructions/{h}", "signed", get=xet.reconstruction)
    r.add(f"{cas}/fetch/{h}", "signed", get=xet.fetch_xorb)
    r.add(lfs.LFS_REPO + "/batch", "download", post=lfs.batch)  # "pr" for operation=upload
    r.add(lfs.LFS_REPO + "/verify", "read", post=lfs.verify)
    r.add(git_http.GIT_REPO + "/info/refs", "download", get=git_http.info_refs)  # receive-pack: "pr", then per ref
    r.add(git_http.GIT_REPO + "/git-(?P<service>upload-pack|receive-pack)", "download", post=git_http.rpc)
    r.add(gating_api.ASK_ACCESS, "user-read", post=gating_api.ask_access)
    r.add(files.RESOLVE, "download", get=files.resolve)
    r.add(files.RAW, "download", get=files.raw)
    every = {m: unscoped.not_found for m in ("get", "post", "put", "delete", "patch")}
    r.add(unscoped.API_UNSCOPED, "public", **every)
    r.add(unscoped.FILES_UNSCOPED, "public", **every)
    add_pages(r)
    return r


def add_pages(r: Router) -> None:
    """The web side, after every API route (no API path changes): pages at the Hub's own URLs."""
    from hubd.web import account, admin, base, docs, listing, manage, oidc, pages
    from hubd.web import discussions as discussion_pages
    from hubd.web import gating as gating_page
    from hubd.web import tokens as tokens_page
    from hubd.web import viewer as viewer_page

    rp = "/" + pages.REPO
    r.add("/static/(?P<file>[A-Za-z0-9_.-]+)", "public", get=account.static)
    r.add("/", "page", get=listing.home)
    r.add("/(?P<types>models|datasets|spaces)", "page", get=listing.listing)
    r.add("/login", {"get": "page", "post": "form"}, get=account.login, post=account.login)
    r.add("/logout", {"get": "page", "post": "form"}, get=account.logout, post=account.logout)
    r.add("/join", {"get": "page", "post": "form"}, get=account.join, post=account.join)
    r.add("/oauth/oidc/login", "page", get=oidc.start)
    r.add("/oauth/oidc/callback", "page", get=oidc.callback)
    r.add("/settings/tokens", {"get": "page", "post": "form"}, get=tokens_page.tokens, post=tokens_page.tokens)
    r.add("/admin", {"get": "page", "post": "form"}, get=admin.admin, post=admin.admin)
    r.add("/docs", "page", get=docs.docs)
    r.add("/openapi.json", "public", get=docs.openapi_json)
    r.add("/new(?:-dataset|-space)?", {"get": "page", "post": "form"}, get=manage.new_repo, post=manage.new_repo)
    r.add(rp, "page", get=pages.repo_page)
    r.add(rp + "/tree/(?P<rev>[^/]+)(?:/(?P<path>.*))?", "page", get=pages.tree_page)
    r.add(rp + "/blob/(?P<rev>[^/]+)/(?P<path>.+)", "page", get=pages.blob_page)
    r.add(rp + "/commits/(?P<rev>[^/]+)", "page", get=pages.commits_page)
    r.add(rp + "/commit/(?P<sha>[0-9a-fA-F]{4,40})", "page", get=pages.commit_page)
    r.add(rp + "/settings", {"get": "page", "post": "form"}, get=manage.settings, post=manage.settings)
    r.add(rp + "/settings/access-requests", {"get": "page", "post": "form"}, get=gating_page.access_requests,
          post=gating_page.access_requests)
    r.add(rp + "/request-access", "form", post=gating_page.request_access)
    r.add(rp + "/like", "form", post=manage.like)
    r.add(rp + "/discussions", {"get": "page", "post": "form"}, get=discussion_pages.discussion_list,
          post=discussion_pages.discussion_list)
    r.add(rp + "/discussions/(?P<num>[0-9]{1,9})", {"get": "page", "post": "form"}, get=discussion_pages.thread,
          post=discussion_pages.thread)
    r.add("/(?P<prefix>datasets)/(?P<ns>[^/]+)/(?P<name>[^/]+)/viewer(?:/(?P<config>[^/]+)/(?P<split>[^/]+))?", "page",
          get=viewer_page.viewer_page)
    r.add("/(?P<account>(?!api$)[^/]+)", {"get": "page", "post": "form"}, get=listing.profile, post=listing.profile)
    r.fallback = base.unknown_path  # no route: the 404 page for a browser, the Hub's JSON error for API clients

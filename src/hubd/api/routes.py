"""Every route hubd serves, matched on the raw (undecoded) path in this order."""

from __future__ import annotations

from hubd.api import browse, discovery, discussions, files, lfs, listing, ops, repos, upload, users, viewer, xet
from hubd.api import git as git_http
from hubd.api.http import Router

REPO = repos.REPO


def build_router() -> Router:
    r = Router()
    r.add("/healthz", get=ops.healthz)
    r.add("/readyz", get=ops.readyz)
    r.add("/metrics", get=ops.metrics)
    r.add("/api/whoami-v2", get=users.whoami)
    r.add("/api/agent-harnesses", get=users.agent_harnesses)
    r.add("/api/validate-yaml", post=upload.validate_yaml)
    r.add("/api/repos/create", post=repos.create_repo)
    r.add("/api/repos/delete", delete=repos.delete_repo)
    r.add("/api/repos/move", post=repos.move_repo)
    r.add(listing.LISTING, get=listing.list_repos_route)
    r.add("/api/models-tags-by-type", get=discovery.models_tags_by_type)
    r.add("/api/datasets-tags-by-type", get=discovery.datasets_tags_by_type)
    r.add("/api/metrics", get=discovery.metrics)
    r.add("/api/users/(?P<user>[^/]+)/likes", get=discovery.user_likes)
    r.add(f"/api/{REPO}/like", post=discovery.like, delete=discovery.like)
    r.add(f"/api/{REPO}/likers", get=discovery.likers)
    ds = "/api/datasets/(?P<ns>[^/]+)/(?P<name>[^/]+)/parquet"
    r.add(ds, get=viewer.api_parquet)
    r.add(ds + "/(?P<config>[^/]+)/(?P<split>[^/]+)", get=viewer.api_parquet_split)
    r.add(ds + "/(?P<config>[^/]+)/(?P<split>[^/]+)/(?P<n>[0-9]+)\\.parquet", get=viewer.api_parquet_shard)
    for name in ("is-valid", "splits", "first-rows", "rows", "search", "filter", "info", "size", "statistics",
                 "parquet"):
        r.add(f"/viewer/{name}", get=getattr(viewer, "viewer_" + name.replace("-", "_")))
    r.add(f"/api/{REPO}/settings", put=repos.update_settings)
    r.add(f"/api/{repos.TYPES}/(?P<name>[^/]+)/settings", put=repos.update_settings)  # an id without namespace
    r.add(f"/api/{REPO}", get=repos.repo_info)
    r.add(f"/api/{REPO}/revision/(?P<rev>[^/]+)", get=repos.repo_info)
    r.add(f"/api/{REPO}/tree/(?P<rev>[^/]+)(?:/(?P<path>.*))?", get=browse.tree)
    r.add(f"/api/{REPO}/paths-info/(?P<rev>[^/]+)", post=browse.paths_info)
    r.add(f"/api/{REPO}/refs", get=browse.list_refs)
    r.add(f"/api/{REPO}/commits/(?P<rev>[^/]+)", get=browse.list_commits)
    r.add(f"/api/{REPO}/branch/(?P<ref>[^/]+)", post=browse.create_branch, delete=browse.delete_branch)
    r.add(f"/api/{REPO}/tag/(?P<ref>[^/]+)", post=browse.create_tag, delete=browse.delete_tag)
    r.add(f"/api/{REPO}/preupload/(?P<rev>[^/]+)", post=upload.preupload)
    r.add(f"/api/{REPO}/commit/(?P<rev>[^/]+)", post=upload.commit)
    r.add(f"/api/{REPO}/discussions", get=discussions.listing, post=discussions.create)
    r.add(f"/api/{REPO}/discussions/(?P<num>[0-9]+)", get=discussions.details)
    r.add("/api/lfs/objects/(?P<oid>[0-9a-f]{64})", put=lfs.put_object, get=lfs.get_object)
    r.add("/api/lfs/objects/(?P<oid>[0-9a-f]{64})/multipart/(?P<upload_id>[0-9a-f]{32})",
          post=lfs.complete_multipart)
    r.add("/api/lfs/objects/(?P<oid>[0-9a-f]{64})/multipart/(?P<upload_id>[0-9a-f]{32})/(?P<part>[0-9]{1,5})",
          put=lfs.put_part)
    r.add(f"/api/{REPO}/xet-(?P<mode>read|write)-token/(?P<rev>[^/]+)", get=xet.token)
    cas, h = xet.CAS_PREFIX, "(?P<hash>[0-9a-fA-F]{64})"
    r.add(f"{cas}/v1/xorbs/[^/]+/{h}", post=xet.upload_xorb)
    r.add(f"{cas}/v1/shards", post=xet.upload_shard)
    r.add(f"{cas}/v1/telemetry", post=xet.telemetry)
    r.add(f"{cas}/v1/chunks/[^/]+/{h}", get=xet.chunk_query)
    r.add(f"{cas}/(?P<version>v1|v2)/reconstructions/{h}", get=xet.reconstruction)
    r.add(f"{cas}/fetch/{h}", get=xet.fetch_xorb)
    r.add(lfs.LFS_REPO + "/batch", post=lfs.batch)
    r.add(lfs.LFS_REPO + "/verify", post=lfs.verify)
    r.add(git_http.GIT_REPO + "/info/refs", get=git_http.info_refs)
    r.add(git_http.GIT_REPO + "/git-(?P<service>upload-pack|receive-pack)", post=git_http.rpc)
    r.add(files.RESOLVE, get=files.resolve)
    r.add(files.RAW, get=files.raw)
    return r

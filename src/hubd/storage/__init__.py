"""Blob storage backends and the git object store built on them."""

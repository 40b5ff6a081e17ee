"""hubd as a pull-through mirror of an upstream hub (another hubd, or the Hugging Face Hub).

Mirrored repos are ordinary repos in hubd's tables whose commits, trees and blobs are the upstream's, fetched
with git's protocol; their large files are filled from the upstream's /resolve on first use, verified by
sha256 and linked to the mirrored repo. Everything keyed by a hash is cached forever; branch names are asked
of the upstream again after a short TTL."""

"""The Xet storage protocol: hashing, xorb and shard formats, the CAS server's domain."""

"""The domain: repos, revisions, commits, access rules. No HTTP here."""

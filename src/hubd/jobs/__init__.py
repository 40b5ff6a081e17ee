"""The durable job queue in the database and the worker that runs it."""

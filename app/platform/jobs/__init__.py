"""Background work: the jobs table (models), enqueueing and claiming with row locks (queue), the worker loop with
heartbeats and periodic tasks (worker), the registry the domains put their job kinds and periodic tasks in, and
``flask hub worker`` (cli)."""

"""Alembic environment: the engine comes from the caller through ``config.attributes``."""

from alembic import context

from jhub_managed.store.models import Base

config = context.config
connection = config.attributes.get("connection")
if connection is None:  # pragma: no cover - only through store.upgrade()
    raise RuntimeError("run migrations through jhub_managed.store.upgrade(url)")

context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    render_as_batch=connection.dialect.name == "sqlite",
    version_table="jhm_alembic_version",
)
with context.begin_transaction():
    context.run_migrations()

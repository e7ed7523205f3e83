"""The store: SQLAlchemy 2 (async) tables on SQLite or Postgres, chosen by `database_url`."""

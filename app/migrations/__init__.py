"""Alembic migration scripts, shipped inside the package so an installed wheel can migrate from anywhere.

`alembic.ini` at the repository root points here with the package location `app:migrations`.
"""

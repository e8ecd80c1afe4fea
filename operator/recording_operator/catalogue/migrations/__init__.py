"""Alembic's migration scripts for the catalogue, shipped as package data and run at start."""

"""Persistence shared by every domain: the declarative base, sessions, migrations and seed data."""

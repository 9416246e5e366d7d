"""Who is calling: users, roles, passwords and bearer tokens."""

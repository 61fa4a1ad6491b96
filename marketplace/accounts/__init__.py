"""Accounts: users, roles, sessions, verification and password resets."""

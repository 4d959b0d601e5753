"""Authentication and authorisation: passwords, API keys, roles, CSRF, login rate limits.

Pure building blocks with no HTTP status codes; :mod:`kithkin.api.deps` turns them into
FastAPI dependencies and :mod:`kithkin.users.service` stores users and keys.
"""

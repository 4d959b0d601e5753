"""The HTTP service: app factory, dependencies, problem+json errors, pagination."""

"""The app uvicorn serves in browser tests (login limit raised: tests sign in often)."""

from fastapi import FastAPI

from kithkin.api.app import create_app


def app() -> FastAPI:
    application: FastAPI = create_app(login_attempts_per_minute=1000)
    return application

"""The app uvicorn serves in browser tests."""

from fastapi import FastAPI

from kithkin.api.app import create_app


def app() -> FastAPI:
    application: FastAPI = create_app()
    return application

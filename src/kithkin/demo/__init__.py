"""The demo: simulate a business, import it, refresh it, show it."""

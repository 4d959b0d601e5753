"""The table of `kithkin` commands: name, one-line help and where each one lives.

Plain data with no import beyond the standard library: the entry point
(:mod:`kithkin.cli.entry`) prints the top-level help from it without loading Typer, and
:mod:`kithkin.cli.main` loads a command's module only when that command runs.
``tests/cli/test_startup.py`` checks the table against the real commands.
"""

from __future__ import annotations

from typing import NamedTuple

APP_HELP = "Relationship-marketing CRM: value, stages, health, playbooks and retention."


class LazyCommand(NamedTuple):
    """Where a command lives: ``register`` adds it (and maybe siblings) to an app."""

    help: str
    register: tuple[str, ...]  # "module:function(app)" or "module:typer_app"


# Defined in kithkin.cli.main itself (their docstrings are this help).
EAGER_COMMANDS: dict[str, str] = {
    "version": "Print the kithkin version.",
    "init": "Create the workspace (with its secret) and bring the store's schema up to date "
            "(safe to re-run: the secret is kept).",
}

LAZY_COMMANDS: dict[str, LazyCommand] = {
    "refresh": LazyCommand(
        "Snapshot the store, compute summaries, features and CLV, store them per customer.",
        ("kithkin.analytics.cli:register",)),
    "serve": LazyCommand(
        "Serve the REST API (/api/v1, docs at /docs) and the dashboard.",
        ("kithkin.api.cli:register",)),
    "demo": LazyCommand(
        "Simulate a business, import it, compute value, stages and health, and show the "
        "result.", ("kithkin.demo.cli:register",)),
    "identify": LazyCommand(
        "Find duplicate customers with Splink; merge the sure ones, queue the likely ones.",
        ("kithkin.identity.cli:register",)),
    "import": LazyCommand(
        "Import customers, prospects, products, transactions, lines, interactions or "
        "memberships.", ("kithkin.imports.ingest.cli:register",)),
    "simulate": LazyCommand(
        "Generate customers, orders, interactions, memberships and prospects, import-ready.",
        ("kithkin.simulate.cli:register",)),
    # `explain` joins the customers group from the relationships module.
    "customers": LazyCommand(
        "Look up customers and assign their account managers.",
        ("kithkin.customers.cli:app", "kithkin.relationships.cli:register",
         "kithkin.preferences.cli:register", "kithkin.interactions.cli:register")),
    "privacy": LazyCommand(
        "Export, erase and record consent for a customer (GDPR).",
        ("kithkin.privacy.cli:app",)),
    "duplicates": LazyCommand(
        "Review, merge, reject and undo duplicate customers.",
        ("kithkin.identity.cli:register",)),
    "stages": LazyCommand(
        "Relationship stage models, assignment and history reports.",
        ("kithkin.relationships.cli:register",)),
    "levels": LazyCommand(
        "Recommended relationship level per segment (Kotler).",
        ("kithkin.relationships.cli:register",)),
    "deliver": LazyCommand(
        "Send due outbox messages by SMTP and signed webhooks, then exit.",
        ("kithkin.outbox.cli:register",)),
    "messages": LazyCommand("Outbox messages: list, show and retry.",
                            ("kithkin.outbox.cli:app",)),
    "users": LazyCommand("Staff users and API keys.", ("kithkin.users.cli:app",)),
    "loyalty": LazyCommand("Loyalty points: grant, statements, redemptions, adjustments.",
                           ("kithkin.loyalty.cli:app",)),
    "tasks": LazyCommand("Follow-up tasks: queues, adding, working and reassigning them.",
                         ("kithkin.tasks.cli:app",)),
    "retention": LazyCommand("Retention: report, exit interviews, complaints, classifier.",
                             ("kithkin.retention.cli:app",)),
    "playbooks": LazyCommand("Follow-up playbooks per relationship level.",
                             ("kithkin.playbooks.cli:app",)),
    "at-risk": LazyCommand(
        "Who is leaving: the at-risk list and each customer's defection status.",
        ("kithkin.atrisk.cli:app",)),
    "lists": LazyCommand("Saved customer lists: members, CSV export and bulk actions.",
                         ("kithkin.lists.cli:app",)),
    "tags": LazyCommand("Customer tags: add, remove, list.", ("kithkin.tags.cli:app",)),
    "audit": LazyCommand("Read and export the audit trail (append-only).",
                         ("kithkin.audit.cli:app",)),
    "backup": LazyCommand(
        "Back up the store and the workspace's files into one archive with a manifest.",
        ("kithkin.backup.cli:register",)),
    "restore": LazyCommand(
        "Restore a backup archive into an empty store and workspace, checked against its "
        "manifest.", ("kithkin.backup.cli:register",)),
    "policy": LazyCommand(
        "Data retention policy: anonymise or delete old prospects, interaction text and "
        "uploads (dry-run first).", ("kithkin.policy.cli:app",)),
}

# The options Typer adds to the top-level group.
APP_OPTIONS: dict[str, str] = {
    "--install-completion": "Install completion for the current shell.",
    "--show-completion": "Show completion for the current shell, to copy it or customize "
                         "the installation.",
    "--help": "Show this message and exit.",
}

"""Admin commands, run on the server as its user: `flask --app server <group> <command>`.

    flask --app server admins add NAME           a console login (asks for the password twice)
    flask --app server admins password NAME      a new password; ends that admin's sessions
    flask --app server admins remove NAME
    flask --app server admins list
    flask --app server examples import FILE      validate a CSV/JSONL file, store all rows or none
    flask --app server examples export FILE      the stored examples as JSONL
    flask --app server models list
    flask --app server models activate VERSION   promote a candidate, or roll back
    flask --app server models gc [--dry-run]     remove version folders registry.json does not list

Training is `python -m train` (add the company's examples with
`--data train/data/slices --data exported.jsonl`), or a background job from the console or
POST /v1/admin/train, which include the stored examples by themselves.
"""
from __future__ import annotations

import getpass
import json
import re
import sys
from pathlib import Path

import click
from flask import Flask
from flask.cli import AppGroup

from engine.dataset import DatasetError
from engine.registry import RegistryError
from server import actions
from server.console import hash_password
from server.storage import Conflict, NotFound
from server.web import ApiError, state

ADMIN_NAME = re.compile(r"[\w.@-]{1,80}")

admins = AppGroup("admins", help="Admin accounts for the console.")
examples = AppGroup("examples", help="The company's labelled training examples.")
models = AppGroup("models", help="Trained model versions.")


def _actor() -> str:
    return f"cli:{getpass.getuser()}"


def _fail(message: str, code: int = 1):
    click.echo(f"error: {message}", err=True)
    sys.exit(code)


def _ask_password() -> str:
    password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    try:
        return hash_password(password)
    except ValueError as exc:
        _fail(str(exc))


# --- admins --------------------------------------------------------------------------------

@admins.command("add")
@click.argument("name")
def add_admin(name: str) -> None:
    """Create an admin account NAME."""
    if not ADMIN_NAME.fullmatch(name):
        _fail("a name is 1-80 letters, digits or . @ _ -")
    try:
        state("storage").admins.add(name, _ask_password(), _actor())
    except Conflict as exc:
        _fail(str(exc))
    click.echo(f"Admin {name} can now log in at /admin/login.")


@admins.command("password")
@click.argument("name")
def set_password(name: str) -> None:
    """Set a new password for NAME and log NAME out everywhere."""
    try:
        state("storage").admins.set_password(name, _ask_password(), _actor())
    except NotFound as exc:
        _fail(str(exc))
    click.echo(f"Password of {name} changed; their sessions have ended.")


@admins.command("remove")
@click.argument("name")
def remove_admin(name: str) -> None:
    """Delete the admin account NAME and end its sessions."""
    try:
        state("storage").admins.remove(name, _actor())
    except NotFound as exc:
        _fail(str(exc))
    click.echo(f"Admin {name} removed.")


@admins.command("list")
def list_admins() -> None:
    for admin in state("storage").admins.all():
        click.echo(f"{admin['name']}\tcreated {admin['created']}")


# --- examples ------------------------------------------------------------------------------

@examples.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--check", is_flag=True, help="Only validate the file; store nothing.")
def import_examples(file: Path, check: bool) -> None:
    """Validate FILE (.csv or .jsonl) and store its examples, all or none."""
    try:
        parsed = actions.parse_upload(file.read_bytes(), file.name)
    except DatasetError as exc:
        _fail(str(exc), 2)
    except ApiError as exc:
        _fail(exc.message, 2)
    if check:
        click.echo(f"{file.name}: {len(parsed)} valid examples; nothing stored (--check).")
        return
    try:
        stored = actions.import_examples(parsed, f"upload:{file.name}", _actor())
    except ApiError as exc:
        _fail(exc.message)
    click.echo(f"Stored {stored} examples from {file.name}.")


@examples.command("export")
@click.argument("file", type=click.Path(dir_okay=False, writable=True, path_type=Path))
def export_examples(file: Path) -> None:
    """Write the stored examples to FILE as JSONL (id, text, labels)."""
    rows = state("storage").examples.for_training()
    file.write_text("".join(json.dumps({"id": e.id, "text": e.text, "labels": list(e.labels)}, ensure_ascii=False) + "\n"
                            for e in rows), encoding="utf-8")
    click.echo(f"Wrote {len(rows)} examples to {file}.")


# --- models --------------------------------------------------------------------------------

@models.command("list")
def list_models() -> None:
    """Every version, newest first, with its held-out scores."""
    for meta in state("registry").versions():
        metrics = meta.get("metrics", {})
        micro = metrics.get("micro", {}).get("f1")
        clean = metrics.get("clean_flagged_rate")
        click.echo(f"{'*' if meta['active'] else ' '} {meta['version']}  created {meta.get('created', '?')}  "
                   f"micro-F1 {micro if micro is not None else '?'}  clean flagged {clean if clean is not None else '?'}")


@models.command("activate")
@click.argument("version")
def activate_model(version: str) -> None:
    """Make VERSION the active model (promote or roll back); workers switch on their next check."""
    try:
        previous = actions.activate_model(version, _actor())
    except ApiError as exc:
        _fail(exc.message)
    click.echo(f"{version} is active (was {previous}).")


@models.command("gc")
@click.option("--dry-run", is_flag=True, help="Only list the folders that would be removed.")
def remove_orphans(dry_run: bool) -> None:
    """Remove model folders that registry.json does not list (a training process killed while
    saving leaves one). Folders younger than ten minutes may still be being saved: kept."""
    registry = state("registry")
    try:
        orphans = registry.orphans() if dry_run else registry.remove_orphans()
    except RegistryError as exc:
        _fail(f"{exc}; nothing was removed")
    if not orphans:
        click.echo("No orphan folders.")
        return
    if not dry_run:
        state("storage").audit.record(_actor(), "models.gc", {"removed": orphans})
    click.echo(("Would remove" if dry_run else "Removed") + f" {len(orphans)} orphan folder(s): " + ", ".join(orphans))


def register(app: Flask) -> None:
    for group in (admins, examples, models):
        app.cli.add_command(group)

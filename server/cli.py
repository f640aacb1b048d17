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

Every command calls the admin service (server/service/), like the console and the JSON API;
a refusal is printed as `Error: <why>` with a non-zero exit status.
"""
from __future__ import annotations

import getpass
import json
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import click
from flask import Flask
from flask.cli import AppGroup

from server.service import DOMAIN_ERRORS
from server.web import service

admins = AppGroup("admins", help="Admin accounts for the console.")
examples = AppGroup("examples", help="The company's labelled training examples.")
models = AppGroup("models", help="Trained model versions.")


def _actor() -> str:
    return f"cli:{getpass.getuser()}"


@contextmanager
def refusals(exit_code: int = 1) -> Iterator[None]:
    """The admin service's refusals as the command's answer: `Error: <why>` (and every problem
    listed, e.g. each bad row of a file) and a non-zero exit status."""
    try:
        yield
    except DOMAIN_ERRORS as exc:
        lines = [str(exc)] + [f"  {d['source']}:{d['line']}: {d['message']}" for d in getattr(exc, "details", None) or ()]
        error = click.ClickException("\n".join(lines))
        error.exit_code = exit_code
        raise error from None


def _ask_password() -> str:
    return click.prompt("Password", hide_input=True, confirmation_prompt=True)


# --- admins --------------------------------------------------------------------------------

@admins.command("add")
@click.argument("name")
def add_admin(name: str) -> None:
    """Create an admin account NAME."""
    with refusals():
        service().check_new_admin(name)  # before the password is typed twice
        service().add_admin(name, _ask_password(), _actor())
    click.echo(f"Admin {name} can now log in at /admin/login.")


@admins.command("password")
@click.argument("name")
def set_password(name: str) -> None:
    """Set a new password for NAME and log NAME out everywhere."""
    with refusals():
        service().set_admin_password(name, _ask_password(), _actor())
    click.echo(f"Password of {name} changed; their sessions have ended.")


@admins.command("remove")
@click.argument("name")
def remove_admin(name: str) -> None:
    """Delete the admin account NAME and end its sessions."""
    with refusals():
        service().remove_admin(name, _actor())
    click.echo(f"Admin {name} removed.")


@admins.command("list")
def list_admins() -> None:
    for admin in service().admins():
        click.echo(f"{admin['name']}\tcreated {admin['created']}")


# --- examples ------------------------------------------------------------------------------

@examples.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--check", is_flag=True, help="Only validate the file; store nothing.")
def import_examples(file: Path, check: bool) -> None:
    """Validate FILE (.csv or .jsonl) and store its examples, all or none."""
    with refusals(exit_code=2):  # the file's fault, like a usage error
        parsed = service().parse_upload(file.read_bytes(), file.name)
    if check:
        click.echo(f"{file.name}: {len(parsed)} valid examples; nothing stored (--check).")
        return
    with refusals():
        stored = service().import_examples(parsed, f"upload:{file.name}", _actor())
    click.echo(f"Stored {stored} examples from {file.name}.")


@examples.command("export")
@click.argument("file", type=click.Path(dir_okay=False, writable=True, path_type=Path))
def export_examples(file: Path) -> None:
    """Write the stored examples to FILE as JSONL (id, text, labels)."""
    rows = service().training_examples()
    file.write_text("".join(json.dumps({"id": e.id, "text": e.text, "labels": list(e.labels)}, ensure_ascii=False) + "\n"
                            for e in rows), encoding="utf-8")
    click.echo(f"Wrote {len(rows)} examples to {file}.")


# --- models --------------------------------------------------------------------------------

@models.command("list")
def list_models() -> None:
    """Every version, newest first, with its held-out scores."""
    for meta in service().model_versions():
        metrics = meta.get("metrics", {})
        micro = metrics.get("micro", {}).get("f1")
        clean = metrics.get("clean_flagged_rate")
        click.echo(f"{'*' if meta['active'] else ' '} {meta['version']}  created {meta.get('created', '?')}  "
                   f"micro-F1 {micro if micro is not None else '?'}  clean flagged {clean if clean is not None else '?'}")


@models.command("activate")
@click.argument("version")
def activate_model(version: str) -> None:
    """Make VERSION the active model (promote or roll back); workers switch on their next check."""
    with refusals():
        previous = service().activate_model(version, _actor())
    click.echo(f"{version} is active (was {previous}).")


@models.command("sync")
def sync_models() -> None:
    """Fetch the model versions and the policy that the database records (shared by every host
    using it) into this host's folders. `make run` does this before `python -m train --if-missing`,
    so a host joining an existing database serves its active model and never trains its own."""
    with refusals():
        active = service().catch_up_with_database()
    click.echo(f"Model {active} is active (shared through the database)." if active
               else "The database records no model yet.")


@models.command("gc")
@click.option("--dry-run", is_flag=True, help="Only list the folders that would be removed.")
def remove_orphans(dry_run: bool) -> None:
    """Remove model folders that registry.json does not list (a training process killed while
    saving leaves one). Folders younger than ten minutes may still be being saved: kept."""
    with refusals():
        orphans = service().remove_orphan_models(_actor(), dry_run=dry_run)
    if not orphans:
        click.echo("No orphan folders.")
        return
    click.echo(("Would remove" if dry_run else "Removed") + f" {len(orphans)} orphan folder(s): " + ", ".join(orphans))


def register(app: Flask) -> None:
    for group in (admins, examples, models):
        app.cli.add_command(group)

"""Operator commands: `flask --app web db upgrade | demo load | users create | tokens create`."""
from __future__ import annotations

import click
from flask import Flask

from core import dead_letters, demo, migrate
from core.users import create_token, create_user, ensure_demo_user


def register_cli(app: Flask) -> None:
    """Attach the command groups to the app's `flask` CLI."""

    @app.cli.group()
    def db() -> None:
        """Database schema."""

    @db.command("upgrade")
    def db_upgrade() -> None:
        """Run the migrations up to the newest."""
        migrate.upgrade()
        click.echo("banco de dados atualizado")

    @app.cli.group("demo")
    def demo_group() -> None:
        """Demo data."""

    @demo_group.command("load")
    def demo_load() -> None:
        """Load the demo data that is missing and print the demo login."""
        demo.load_all(click.echo)
        username, password = ensure_demo_user()
        click.echo(f"login de demonstração: {username} / {password}")

    @app.cli.group()
    def users() -> None:
        """Users of the web UI."""

    @users.command("create")
    @click.argument("username")
    @click.option("--name", default="", help="Nome exibido.")
    @click.option("--admin", is_flag=True, help="Administrador (vê tudo, reprocessa falhas).")
    @click.password_option(help="Senha (pedida no terminal quando omitida).")
    def users_create(username: str, name: str, admin: bool, password: str) -> None:
        """Create a user, or reset an existing user's password."""
        try:
            create_user(username, password, name=name, is_admin=admin)
        except ValueError as exc:
            raise click.UsageError(str(exc)) from exc
        click.echo(f"usuário {username} salvo")

    @app.cli.group()
    def tokens() -> None:
        """Bearer tokens for scripts."""

    @tokens.command("create")
    @click.argument("username")
    @click.option("--label", default="", help="Para que serve o token.")
    def tokens_create(username: str, label: str) -> None:
        """Create a token and print it once (only its hash is stored)."""
        try:
            click.echo(create_token(username, label))
        except LookupError as exc:
            raise click.UsageError(str(exc)) from exc

    @app.cli.group("deadletters")
    def deadletters_group() -> None:
        """Tasks that spent their retries."""

    @deadletters_group.command("list")
    def deadletters_list() -> None:
        """List the entries waiting for a replay."""
        for entry in dead_letters.list_open():
            click.echo(f"{entry.id}\t{entry.task_name}\t{entry.reference}\t{entry.error}")

    @deadletters_group.command("replay")
    @click.argument("entry_id", type=int)
    def deadletters_replay(entry_id: int) -> None:
        """Send an entry's task again."""
        task_id = dead_letters.replay(entry_id, who="cli")
        click.echo(f"reenviado como {task_id}" if task_id else "nada a reenviar")

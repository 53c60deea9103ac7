"""Operator commands: `flask --app web db upgrade | demo load | users ... | tokens ... |
deadletters list | replay | discard`."""
from __future__ import annotations

from typing import Any

import click
from flask import Flask

from core import audit, dead_letters, demo, migrate
from core import users as accounts
from core.db import session_scope
from core.models import DeadLetter
from core.models.auth import DEFAULT_ROLE, ROLE_LABELS, ROLES
from web.cli_devices import register_devices_cli
from web.formats import data_hora
from web.params import MAX_ID


def register_cli(app: Flask) -> None:
    """Attach the command groups to the app's `flask` CLI."""
    register_devices_cli(app)

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
        """Load the demo data that is missing and print the demo login (refused in production)."""
        try:
            accounts.refuse_demo_in_production()
        except accounts.DemoInProduction as exc:
            raise click.UsageError(str(exc)) from exc
        demo.load_all(click.echo)
        username, password = accounts.ensure_demo_user()
        click.echo(f"login de demonstração: {username} / {password}")

    register_user_commands(app)

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
        task_id = dead_letters.replay(entry_id, who=audit.cli_actor())
        click.echo(f"reenviado como {task_id}" if task_id else "nada a reenviar")

    @deadletters_group.command("discard")
    @click.argument("entry_ids", nargs=-1, required=True, type=click.IntRange(1, MAX_ID),
                    metavar="ID [ID...]")
    @click.option("--reason", required=True, help="Motivo do descarte (obrigatório; vai para a auditoria).")
    def deadletters_discard(entry_ids: tuple[int, ...], reason: str) -> None:
        """Close entries without replaying them, as the Falhas page does (each audited with the
        reason); exit status 1 when any of them could not be discarded."""
        if refused := dead_letters.reason_refused(reason):
            raise click.UsageError(refused)
        done = set(dead_letters.discard_many(list(entry_ids), audit.cli_actor(), reason))
        refused = [entry_id for entry_id in dict.fromkeys(entry_ids) if entry_id not in done]
        for entry_id in dict.fromkeys(entry_ids):
            if entry_id in done:
                click.echo(f"falha {entry_id} descartada")
        for entry_id in refused:
            click.echo(f"falha {entry_id} não descartada: {why_not_open(entry_id)}", err=True)
        if refused:
            raise SystemExit(1)


def why_not_open(entry_id: int) -> str:
    """Why a dead letter is not open (unknown, replayed or discarded), in pt-BR."""
    with session_scope() as session:
        entry = session.get(DeadLetter, entry_id)
        if entry is None:
            return "não existe"
        if entry.discarded_at is not None:
            return (f"já descartada em {data_hora(entry.discarded_at)} por {entry.discarded_by} "
                    f"({entry.discard_reason})")
        if entry.replayed_at is not None:
            return f"já reenviada em {data_hora(entry.replayed_at)} por {entry.replayed_by}"
        return "não está aberta"


def register_user_commands(app: Flask) -> None:
    """`users add|role|deactivate|activate|password|list` and `tokens add|list|revoke`;
    every change is audited as cli:<operating-system user>."""

    def run(change: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return change(*args, **kwargs, actor=audit.cli_actor())
        except (ValueError, LookupError) as exc:
            raise click.UsageError(str(exc.args[0] if exc.args else exc)) from exc

    role_choice = click.Choice(ROLES)

    @app.cli.group()
    def users() -> None:
        """Users of the web UI and their roles (docs/access.md)."""

    @users.command("add")
    @click.argument("username")
    @click.option("--role", type=role_choice, default=DEFAULT_ROLE, show_default=True,
                  help="Papel: o que a pessoa pode fazer.")
    @click.option("--name", default="", help="Nome exibido.")
    @click.password_option(help="Senha (pedida no terminal quando omitida).")
    def users_add(username: str, role: str, name: str, password: str) -> None:
        """Create a user with a role."""
        run(accounts.create_user, username, password, name=name, role=role)
        click.echo(f"usuário {username} criado ({ROLE_LABELS[role]})")

    @users.command("role")
    @click.argument("username")
    @click.argument("role", type=role_choice)
    def users_role(username: str, role: str) -> None:
        """Give a user another role."""
        run(accounts.set_role, username, role)
        click.echo(f"{username} agora é {ROLE_LABELS[role]}")

    @users.command("deactivate")
    @click.argument("username")
    def users_deactivate(username: str) -> None:
        """Deactivate a user: their session and tokens stop working at once."""
        run(accounts.set_active, username, False)
        click.echo(f"{username} desativado")

    @users.command("activate")
    @click.argument("username")
    def users_activate(username: str) -> None:
        """Reactivate a deactivated user."""
        run(accounts.set_active, username, True)
        click.echo(f"{username} reativado")

    @users.command("password")
    @click.argument("username")
    @click.password_option(help="Nova senha (pedida no terminal quando omitida).")
    def users_password(username: str, password: str) -> None:
        """Reset a user's password."""
        run(accounts.reset_password, username, password)
        click.echo(f"senha de {username} redefinida")

    @users.command("list")
    def users_list() -> None:
        """List the users: username, role, active, name."""
        for user in accounts.list_users():
            click.echo(f"{user.username}\t{user.role}\t{'ativo' if user.active else 'desativado'}"
                       f"\t{user.name}")

    @app.cli.group()
    def tokens() -> None:
        """Bearer tokens for scripts (they act with their user's role)."""

    @tokens.command("add")
    @click.argument("username")
    @click.option("--label", default="", help="Para que serve o token.")
    @click.option("--days", type=int, default=None,
                  help="Dias de validade (padrão e máximo: STOCKFLOW_TOKEN_DAYS).")
    def tokens_add(username: str, label: str, days: int | None) -> None:
        """Create a token and print it once (only its hash is stored)."""
        click.echo(run(accounts.create_token, username, label, days=days))

    @tokens.command("list")
    @click.option("--user", "username", default=None, help="Só os tokens deste usuário.")
    def tokens_list(username: str | None) -> None:
        """List tokens: id, user, status, expiry, last use, label."""
        for token in accounts.list_tokens(username):
            last = token.last_used_at.isoformat(timespec="minutes") if token.last_used_at else "nunca"
            click.echo(f"{token.id}\t{token.username}\t{token.status}\t"
                       f"expira {token.expires_at.isoformat(timespec='minutes')}\t"
                       f"último uso {last}\t{token.label}")

    @tokens.command("revoke")
    @click.argument("token_id", type=int)
    def tokens_revoke(token_id: int) -> None:
        """Revoke a token at once."""
        if not run(accounts.revoke_token, token_id):
            raise click.UsageError(f"token {token_id} não existe ou já foi revogado")
        click.echo(f"token {token_id} revogado")

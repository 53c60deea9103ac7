"""Operator commands for the device registry: `flask --app web devices add | revoke | secret |
list`. Each change (and each secret shown) is in the audit trail as cli:<operating-system
user>, with the device id as its target; what the commands print (password, secret) never is."""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import click
from flask import Flask

from core import audit, devices
from core.device_brokers import BROKERS, BrokerAdminError


@contextmanager
def audited(action: str, device_id: str, **detail: Any) -> Iterator[dict[str, Any]]:
    """Record the block's outcome once: ok with `detail` (the block may add to it), or failed
    with the error, which goes on to the command's own handling."""
    try:
        yield detail
    except (devices.DeviceError, BrokerAdminError) as exc:
        audit.record(action, actor=audit.cli_actor(), target=device_id, outcome="failed",
                     detail={**detail, "erro": str(exc)[:300]})
        raise
    audit.record(action, actor=audit.cli_actor(), target=device_id, detail=detail)


def register_devices_cli(app: Flask) -> None:
    """Attach the `devices` group to the app's `flask` CLI."""

    @app.cli.group("devices")
    def devices_group() -> None:
        """Each Pi's identity: broker credentials and the stores it scans for."""

    @devices_group.command("add")
    @click.argument("device_id")
    @click.option("--store", "stores", multiple=True, required=True,
                  help="Loja (store_key) do dispositivo; repita para mais de uma.")
    @click.option("--broker", type=click.Choice(BROKERS), default=None,
                  help="Broker do usuário (padrão: o de STOCKFLOW_DEVICE_BROKER_URL).")
    @click.option("--broker-url", default=None,
                  help="Broker como o Pi o alcança, sem credenciais (padrão: a configuração).")
    def devices_add(device_id: str, stores: tuple[str, ...], broker: str | None,
                    broker_url: str | None) -> None:
        """Issue a device's broker user and print the agent's environment file (once)."""
        try:
            with audited("device.add", device_id, lojas=sorted(set(stores))) as detail:
                issued = devices.add_device(device_id, stores, audit.cli_actor(), broker, broker_url)
                detail["usuario_broker"] = issued.broker_user
        except devices.DeviceError as exc:
            raise click.UsageError(str(exc)) from exc
        except BrokerAdminError as exc:
            raise click.ClickException(str(exc)) from exc
        click.echo(issued.env_file, nl=False)
        click.echo(f"dispositivo {issued.device_id} cadastrado (usuário {issued.broker_user})",
                   err=True)
        if issued.note:
            click.echo(issued.note, err=True)

    @devices_group.command("revoke")
    @click.argument("device_id")
    def devices_revoke(device_id: str) -> None:
        """Revoke a device: the workers refuse it and its broker user is deleted."""
        try:
            with audited("device.revoke", device_id) as detail:
                device = devices.revoke_device(device_id, audit.cli_actor())
                detail["usuario_broker"] = device.broker_user
        except devices.DeviceError as exc:
            raise click.UsageError(str(exc)) from exc
        except BrokerAdminError as exc:
            raise click.ClickException(f"{exc} (o dispositivo já está revogado no cadastro; "
                                       "rode revoke de novo para apagar o usuário)") from exc
        click.echo(f"dispositivo {device.device_id} revogado; usuário {device.broker_user} "
                   "apagado do broker")

    @devices_group.command("secret")
    @click.argument("device_id")
    @click.option("--rotate", is_flag=True,
                  help="Troca o segredo: o anterior deixa de valer (após o cache dos workers).")
    def devices_secret(device_id: str, rotate: bool) -> None:
        """Print an active device's signing secret line (recomputed from the server's key)."""
        try:
            # the trail says the secret was shown (or rotated), never what it is
            with audited("device.secret", device_id, troca=rotate):
                line = devices.secret_line(device_id, rotate)
        except devices.DeviceError as exc:
            raise click.UsageError(str(exc)) from exc
        click.echo(line, nl=False)

    @devices_group.command("list")
    def devices_list() -> None:
        """List the registered devices (tab-separated)."""
        for device in devices.list_devices():
            revoked = (f"{device.revoked_at:%Y-%m-%d %H:%M} por {device.revoked_by}"
                       if device.revoked_at else "-")
            click.echo("\t".join([device.device_id, device.state, ",".join(device.store_keys),
                                  device.broker, device.broker_user,
                                  f"{device.created_at:%Y-%m-%d %H:%M} por {device.created_by}",
                                  revoked]))

"""``gradewatch token create|revoke|list``: bearer tokens for the HTTP API."""

from __future__ import annotations

from datetime import datetime

import click

from gradewatch.cli.common import engine_from_env
from gradewatch.storage.db import utcnow
from gradewatch.storage.tokens import (
    TokenError,
    create_token,
    list_tokens,
    parse_duration,
    parse_scopes,
    revoke_token,
)


@click.group()
def token() -> None:
    """API tokens (stored only as a sha256 hash)."""


@token.command("create")
@click.option("--name", required=True, help="Who or what holds the token, e.g. 'registrar'.")
@click.option("--scope", "scope", default="upload,report", show_default=True,
              help="Comma-separated scopes: upload, report.")
@click.option("--expires-in", "expires_in", default=None, metavar="DURATION",
              help="Refuse the token after this long: 12h, 90d or 8w (default: never).")
def token_create(name: str, scope: str, expires_in: str | None) -> None:
    """Create a token and print it once, alone on the last line."""
    try:
        lifetime = parse_duration(expires_in) if expires_in is not None else None
        value = create_token(engine_from_env(), name, parse_scopes(scope), expires_in=lifetime)
    except TokenError as exc:
        raise click.ClickException(str(exc)) from exc
    until = f", expires {_moment(utcnow() + lifetime)}" if lifetime else ""
    click.echo(f"token {name!r} created with scopes {scope}{until}; it is shown only once:")
    click.echo(value)


@token.command("revoke")
@click.argument("name")
def token_revoke(name: str) -> None:
    """Revoke the token called NAME."""
    try:
        revoke_token(engine_from_env(), name)
    except TokenError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"token {name!r} revoked")


@token.command("list")
def token_list() -> None:
    """List tokens (names, scopes, state); never the tokens themselves."""
    now = utcnow()
    for info in list_tokens(engine_from_env()):
        state = "revoked" if info.revoked_at else "expired" if info.expired(now) else "active"
        used = _moment(info.last_used_at) if info.last_used_at else "never"
        expires = f"expires {_moment(info.expires_at)}" if info.expires_at else "never expires"
        click.echo(f"{info.name}\t{','.join(sorted(info.scopes))}\t{state}\t{expires}\tlast used {used}")


def _moment(moment: datetime) -> str:
    return f"{moment:%Y-%m-%d %H:%M} UTC"

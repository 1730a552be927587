"""``gradewatch token create|revoke|list``: bearer tokens for the HTTP API."""

from __future__ import annotations

import click

from gradewatch.cli.common import engine_from_env
from gradewatch.storage.tokens import TokenError, create_token, list_tokens, parse_scopes, revoke_token


@click.group()
def token() -> None:
    """API tokens (stored only as a sha256 hash)."""


@token.command("create")
@click.option("--name", required=True, help="Who or what holds the token, e.g. 'registrar'.")
@click.option("--scope", "scope", default="upload,report", show_default=True,
              help="Comma-separated scopes: upload, report.")
def token_create(name: str, scope: str) -> None:
    """Create a token and print it once, alone on the last line."""
    try:
        value = create_token(engine_from_env(), name, parse_scopes(scope))
    except TokenError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"token {name!r} created with scopes {scope}; it is shown only once:")
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
    for info in list_tokens(engine_from_env()):
        state = "revoked" if info.revoked_at else "active"
        used = info.last_used_at.isoformat(timespec="seconds") if info.last_used_at else "never"
        click.echo(f"{info.name}\t{','.join(sorted(info.scopes))}\t{state}\tlast used {used}")

"""`certgen trust ...`: the trust list as the web instances read it from the registry.

The `certgen keys` commands that write `keys/trustlist.json` publish it to the registry as well
(`publish_after_keys`); `certgen trust publish` does it by hand (a key folder used before
publishing existed, a retry after the registry was unreachable). Every running web instance
picks the newest published list up within about a second, after checking it against the root
(docs/deploy.md, "Changes live")."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import click

from .cli_support import AppContext, user_errors
from .errors import CertgenError
from .keys import KeyStore
from .registry import Registry
from .registry import live
from .registry.findings import safe

pass_app = click.make_pass_decorator(AppContext, ensure=True)


@contextmanager
def _registry(app: AppContext) -> Iterator[Registry]:
    registry = Registry.open(app.get_settings().registry_url)
    try:
        yield registry
    finally:
        registry.close()


def _publish(app: AppContext, store: KeyStore, data: bytes) -> tuple[live.PublishedTrustList, bool]:
    with _registry(app) as registry:
        return live.publish_trust_list(registry, data, store.root_certificate(), now=app.now(), actor=app.actor())


def publish_after_keys(app: AppContext, store: KeyStore) -> None:
    """Publish the trust list a `certgen keys` command just wrote. The keys are already changed,
    so a failure here is a warning naming the retry, not an error."""
    try:
        published, new = _publish(app, store, store.trustlist_path.read_bytes())
    except (CertgenError, OSError) as exc:
        click.echo(f"warning: the trust list was not published to the registry ({exc}); the web instances "
                   "keep the previous one until `certgen trust publish` succeeds", err=True)
        return
    if new:
        click.echo(f"trust list published to the registry (version {published.id}): the web instances use it within seconds")
        _anchor(app, store)


def _anchor(app: AppContext, store: KeyStore) -> None:
    """Sign a checkpoint at once, so that its `trustlist` line anchors the list just published
    (docs/registry.md): until a checkpoint covers it, a database writer could make the list
    vanish for an instance started from an older file. Only when the passphrase comes from the
    environment (a keys command on a terminal is not asked twice); otherwise say how."""
    if store.log_key() is None:
        return
    if not app.passphrase_given:
        click.echo("run `certgen checkpoint` to anchor the new trust list in a signed checkpoint", err=True)
        return
    from .cli import _sign_tree_head  # the checkpoint command's own signing

    try:
        with _registry(app) as registry:
            done = _sign_tree_head(app, registry, store)
    except (CertgenError, OSError) as exc:
        click.echo(f"warning: no checkpoint was signed ({safe(str(exc))}); run `certgen checkpoint` to anchor the new "
                   "trust list", err=True)
        return
    if done:
        click.echo(f"{done} (anchors the new trust list)")


@click.group("trust")
def trust_group() -> None:
    """The trust list the web instances read from the registry."""


@trust_group.command("publish")
@click.argument("file", required=False, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@pass_app
def trust_publish(app: AppContext, file: Path | None) -> None:
    """Publish the signed trust list (FILE, default keys/trustlist.json) to the registry. It is
    checked against the root first; one older than the newest published is refused."""
    with user_errors():
        store = app.keystore()
        path = file or store.trustlist_path
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise click.ClickException(f"{path}: cannot read the trust list ({exc.strerror})") from None
        published, new = _publish(app, store, data)
    state = "published" if new else "already the newest published"
    click.echo(f"{path}: {state} (version {published.id}, issued at {published.issued_at:%Y-%m-%d %H:%M:%S}Z)")


@trust_group.command("status")
@pass_app
def trust_status(app: AppContext) -> None:
    """Show the newest trust list published to the registry."""
    with user_errors():
        with _registry(app) as registry:
            published = live.latest_trust_list(registry)
            try:
                logged = live.latest_logged_trust_list(registry)
            except ValueError as exc:
                raise click.ClickException(f"the log's newest trust-list event is unreadable: {exc}") from None
    if published is None and logged is None:
        click.echo("no trust list is published to the registry: run `certgen trust publish`")
        return
    if published is not None:
        click.echo(f"version {published.id}: issued at {published.issued_at:%Y-%m-%d %H:%M:%S}Z, published "
                   f"{published.published_at:%Y-%m-%d %H:%M:%S}Z by {safe(published.actor)}, sha256 {published.sha256}")
    if logged is None:
        click.echo("the log names no trust list")
    else:
        click.echo(f"the log names list {safe(logged.id)} as the newest (event {logged.seq}, issued at "
                   f"{safe(logged.issued_at)}, sha256 {safe(logged.sha256)})")
        if published is None or logged.sha256 != published.sha256:
            raise click.ClickException("the newest row of trust_lists is not the newest list the log names: rows were "
                                       "deleted or added behind the log's back; run `certgen log --verify`")

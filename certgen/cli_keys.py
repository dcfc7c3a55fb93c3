"""`certgen keys` commands for hardware tokens and the key ceremony (docs/keys.md): the token
options shared by `keys init` and `keys rotate`, and `keys request`, `keys certify`,
`keys install`. Each parses, makes one library call (certgen.keys, certgen.ceremony), prints."""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import click

from .cli_support import AppContext, user_errors
from .errors import ConfigError
from .token import TokenRef


def token_options(command: Callable) -> Callable:
    """--pkcs11-module and --token: where a new document signer key is generated."""
    command = click.option("--token", "token_label", metavar="LABEL",
                           help="Label of the token (with --pkcs11-module).")(command)
    return click.option("--pkcs11-module", type=click.Path(dir_okay=False), metavar="PATH",
                        help="PKCS#11 module (shared library) of a hardware token: the document signer's key is "
                             "generated inside the token and never leaves it; PIN from CERTGEN_PKCS11_PIN or a prompt.")(command)


def token_ref(module: str | None, label: str | None) -> TokenRef | None:
    """The token the options name, None for a key file; both options or neither."""
    if module is None and label is None:
        return None
    if not module or not label:
        raise ConfigError("a token needs both --pkcs11-module PATH and --token LABEL")
    return TokenRef(str(Path(module).expanduser()), label)


def _writable(output: Path) -> None:
    """Refuse an output file in a folder that is not there before anything is generated or recorded."""
    if not output.parent.is_dir():
        raise ConfigError(f"--output {output}: the folder {output.parent} does not exist")


def register(keys: click.Group) -> None:
    """Add the ceremony's commands to the `keys` group."""
    pass_app = click.make_pass_decorator(AppContext, ensure=True)

    @keys.command("request")
    @token_options
    @click.option("--root-cert", type=click.Path(exists=True, dir_okay=False, path_type=Path),
                  help="The root's certificate, to set up a key folder that has none (first request).")
    @click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path), required=True,
                  help="Where to write the certificate signing request (PEM).")
    @pass_app
    def keys_request(app: AppContext, pkcs11_module: str | None, token_label: str | None, root_cert: Path | None,
                     output: Path) -> None:
        """Generate the next document signer's key (in a token, or a key file) and write its
        certificate signing request, for the offline root to certify (`keys certify`)."""
        from cryptography import x509

        from .ceremony import request_signer

        with user_errors():
            _writable(output)
            token = token_ref(pkcs11_module, token_label)
            root = None
            if root_cert is not None:
                try:
                    root = x509.load_pem_x509_certificate(root_cert.read_bytes())
                except ValueError as exc:
                    raise ConfigError(f"{root_cert}: not a PEM certificate ({exc})") from None
            store = app.keystore()
            passphrase = b"" if token is not None else app.passphrase()
            pem = request_signer(store, passphrase, now=app.now(), token=token, root_cert=root)
        output.write_bytes(pem)
        where = f"in {token}" if token else "in a key file of " + str(store.folder)
        click.echo(f"request written: {output} (key {where}); certify it on the offline machine: "
                   f"certgen keys certify {output.name} -o signer.cert.pem")

    @keys.command("certify")
    @click.argument("request", type=click.Path(exists=True, dir_okay=False, path_type=Path))
    @click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path), required=True,
                  help="Where to write the document signer certificate (PEM).")
    @click.option("--years", type=click.IntRange(1, 20), default=10, show_default=True, help="Validity (capped by the root's).")
    @pass_app
    def keys_certify(app: AppContext, request: Path, output: Path, years: int) -> None:
        """On the offline machine: the root signs a checked request into a document signer
        certificate (the DSC profile, docs/keys.md) and re-signs the trust list."""
        from cryptography.hazmat.primitives import serialization

        from .ceremony import certify_request

        with user_errors():
            _writable(output)
            store = app.keystore()
            info = certify_request(store, request.read_bytes(), app.passphrase(), now=app.now(), years=years,
                                   source=str(request))
        output.write_bytes(info.certificate.public_bytes(serialization.Encoding.PEM))
        click.echo(f"document signer {info.kid.hex()} certified: {output}\ntrust list re-signed: {store.trustlist_path}\n"
                   f"carry both to the issuing machine: certgen keys install {output.name} --trust-list trustlist.json")

    @keys.command("install")
    @click.argument("certificate", type=click.Path(exists=True, dir_okay=False, path_type=Path))
    @click.option("--trust-list", type=click.Path(exists=True, dir_okay=False, path_type=Path), required=True,
                  help="The trust list `keys certify` re-signed.")
    @pass_app
    def keys_install(app: AppContext, certificate: Path, trust_list: Path) -> None:
        """Make the certified document signer current (after checking it) and install the trust list."""
        from .ceremony import install_certificate

        with user_errors():
            store = app.keystore()
            info = install_certificate(store, certificate.read_bytes(), trust_list.read_bytes())
        click.echo(f"document signer {info.kid.hex()} is now current ({info.key_location or 'key file'}); "
                   f"trust list installed: {store.trustlist_path}")
        from .cli_trust import publish_after_keys  # the web instances take it from the registry

        publish_after_keys(app, store)

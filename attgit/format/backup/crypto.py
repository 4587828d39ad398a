"""Encrypted backup files: OpenPGP through GnuPG (python-gnupg), as
django-dbbackup does -- never home-made cryptography.

A file is encrypted for a recipient's public key (``--encrypt RECIPIENT``:
a key id, fingerprint or e-mail in the GnuPG home); it is decrypted on
import with the private key in the GnuPG home the site names
(``ATTGIT_GNUPGHOME``, else ``$GNUPGHOME``, else GnuPG's own default).
OpenPGP's integrity check (MDC/AEAD) makes a tampered file fail to
decrypt; a wrong key, a tampered file and a missing key are each a
ValidationError (exit 4) that says which.  Plaintext is only ever written
to a private temporary file, removed on failure.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from typing import BinaryIO, Optional

from attgit.errors import ConfigError, NotFound, ValidationError
from attgit.format.backup.common import ERROR_MESSAGES

_ARMOR = b"-----BEGIN PGP MESSAGE-----"
_CANNOT = ERROR_MESSAGES["cannot_decrypt"]


def is_encrypted(head: bytes) -> bool:
    """Whether a file starting with ``head`` is an OpenPGP message (binary
    or ASCII-armoured).  JSON never starts with such a byte."""
    if head.lstrip().startswith(_ARMOR):
        return True
    if len(head) < 3 or not head[0] & 0x80:
        return False
    first = head[0]
    if first & 0x40:  # new packet format: tag, then a 1, 2 or 5 byte length
        tag, skip = first & 0x3F, 1 if head[1] < 192 else 5 if head[1] == 255 else 2
    else:  # old format: the length's size is in the low bits (3: indeterminate)
        tag, skip = (first >> 2) & 0x0F, (1, 2, 4, 0)[first & 3]
    version = head[1 + skip] if len(head) > 1 + skip else None
    return (tag == 1 and version in (3, 6)) or (tag == 3 and version in (4, 5, 6))


def gnupg_home(home: Optional[str] = None) -> Optional[str]:
    """The GnuPG home to use: the argument, else $ATTGIT_GNUPGHOME, else
    None (GnuPG's default: $GNUPGHOME or ~/.gnupg)."""
    return home or os.environ.get("ATTGIT_GNUPGHOME") or None


def _gpg(home: Optional[str]):
    try:
        import gnupg
    except ImportError:
        raise ConfigError("encrypted backup files need python-gnupg: pip install python-gnupg") from None
    folder = gnupg_home(home)
    if folder and not os.path.isdir(folder):  # not "install gnupg": the folder is what is missing
        raise ConfigError(f"the GnuPG home {folder} does not exist: point ATTGIT_GNUPGHOME (or the site's "
                          "ATTGIT_GNUPGHOME setting) at the folder that holds the backup key, or make it "
                          f"there (gpg --homedir {folder} --import key.asc)")
    try:
        return gnupg.GPG(gnupghome=folder)
    except OSError as exc:
        raise ConfigError(f"cannot run GnuPG: {exc} (is the gpg program installed? apt-get install gnupg)") from None
    except ValueError as exc:
        raise ConfigError(f"cannot use GnuPG: {exc}") from None


def encrypt(plain: BinaryIO, recipient: str, output: str, home: Optional[str] = None,
            always_trust: Optional[bool] = None) -> None:
    """Encrypt the open file ``plain`` for ``recipient`` into the path ``output``.

    The recipient's public key must be in the GnuPG home; keys are never
    fetched from the network.  ``always_trust`` (default: the environment's
    ATTGIT_GPG_ALWAYS_TRUST) accepts a key nobody has certified.
    """
    if always_trust is None:
        always_trust = os.environ.get("ATTGIT_GPG_ALWAYS_TRUST", "") not in ("", "0", "false", "no")
    gpg = _gpg(home)
    where = gnupg_home(home) or "the default GnuPG home"
    # Looked up first: GnuPG refusing a recipient can stop reading its input
    # before python-gnupg has written it, which surfaces as a bare "Broken pipe".
    if not gpg.list_keys(keys=[recipient]):
        raise _no_public_key(recipient, where)
    try:
        result = gpg.encrypt_file(plain, [recipient], output=output, armor=False, always_trust=always_trust,
                                  extra_args=["--auto-key-locate", "local", "--no-auto-key-retrieve"])
    except BrokenPipeError:
        raise ValidationError(f"cannot encrypt for {recipient!r}: GnuPG stopped before reading the whole "
                              "backup (run gpg --encrypt by hand to see why)") from None
    if result.ok and getattr(result, "returncode", 0) == 0:
        return
    stderr = result.stderr or ""
    if "INV_RECP" in stderr and ("No public key" in stderr or "No name" in stderr or "INV_RECP 0" in stderr):
        raise _no_public_key(recipient, where)
    if "INV_RECP 10" in stderr or "no assurance" in stderr.lower() or "not trusted" in stderr.lower():
        raise ValidationError(f"the key of {recipient!r} is not trusted in {where}: certify it "
                              "(gpg --lsign-key) or set ATTGIT_GPG_ALWAYS_TRUST=1")
    raise ValidationError(f"cannot encrypt for {recipient!r}: {_gpg_reason(result)}")


def _no_public_key(recipient: str, where: str) -> NotFound:
    return NotFound(f"no public key for {recipient!r} in {where}: import it first (gpg --import recipient.asc)")


def decrypt_to_temporary(encrypted: BinaryIO, home: Optional[str] = None) -> BinaryIO:
    """Decrypt the open file ``encrypted`` into an anonymous temporary file
    (its name is removed at once) and return it, positioned at the start.

    Raises ValidationError when there is no private key for the file, the
    file was tampered with, or it is not a complete OpenPGP message.
    """
    gpg = _gpg(home)
    folder = tempfile.mkdtemp(prefix="attgit-decrypt-")  # mode 0700
    try:
        path = os.path.join(folder, "plain.json")
        result = gpg.decrypt_file(encrypted, output=path)
        _check_decrypted(result, home)
        plain = open(path, "rb")  # noqa: SIM115 - returned open, its name removed
        os.unlink(path)
        return plain
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _check_decrypted(result, home: Optional[str]) -> None:
    stderr = result.stderr or ""
    failed = not result.ok or getattr(result, "returncode", 0) != 0 or "DECRYPTION_FAILED" in stderr
    if not failed and "DECRYPTION_OKAY" in stderr and "BADMDC" not in stderr:
        return
    where = gnupg_home(home) or "the default GnuPG home"
    if "NO_SECKEY" in stderr:
        keys = sorted({line.split()[2] for line in stderr.splitlines() if line.startswith("[GNUPG:] NO_SECKEY")})
        raise ValidationError(f"{_CANNOT}: it is encrypted for key {', '.join(keys)}, "
                              f"and {where} has no private key for it (wrong key, or set ATTGIT_GNUPGHOME)")
    if _needs_passphrase(stderr):
        raise ValidationError(
            f"{_CANNOT}: its private key in {where} is protected by a passphrase, and GnuPG cannot ask for it "
            "here (no terminal). Unlock the key in gpg-agent first: run `gpg --decrypt FILE > /dev/null` "
            f"{'with GNUPGHOME=' + where + ' ' if gnupg_home(home) else ''}in a terminal and type the "
            "passphrase (the agent keeps it for its cache time), then run attgit again; or keep the backup "
            "key in a private GnuPG home without a passphrase. The file itself was not read")
    if "BADMDC" in stderr or "manipulated" in stderr or "BEGIN_DECRYPTION" in stderr:
        raise ValidationError(f"{_CANNOT}: it has been altered or damaged since it was encrypted "
                              f"(GnuPG: {_gpg_reason(result)}); nothing was read")
    raise ValidationError(f"{_CANNOT}: {_gpg_reason(result)}")


#: What GnuPG says when the secret key is there but locked by a passphrase
#: it could not ask for (no pinentry, no terminal, cancelled, wrong one)
_PASSPHRASE_SIGNS = ("NEED_PASSPHRASE", "MISSING_PASSPHRASE", "BAD_PASSPHRASE", "PINENTRY_LAUNCHED",
                     "Inappropriate ioctl for device", "No pinentry", "Operation cancelled")


def _needs_passphrase(stderr: str) -> bool:
    return "NO_SECKEY" not in stderr and any(sign in stderr for sign in _PASSPHRASE_SIGNS)


def _gpg_reason(result) -> str:
    lines = [line[5:].strip() for line in (result.stderr or "").splitlines() if line.startswith("gpg: ")]
    return "; ".join(lines[-2:]) or (result.status or "GnuPG failed")


@contextlib.contextmanager
def plaintext(f: BinaryIO, home: Optional[str] = None):
    """``f`` itself if it is not encrypted, else its decrypted temporary copy."""
    start = f.tell()
    head = f.read(64)
    f.seek(start)
    if not is_encrypted(head):
        yield f, False
        return
    plain = decrypt_to_temporary(f, home)
    try:
        yield plain, True
    finally:
        plain.close()

"""Encrypted backup files: OpenPGP through GnuPG (python-gnupg), as
django-dbbackup does -- never home-made cryptography.

A file is encrypted for a recipient's public key (``--encrypt RECIPIENT``:
a key id, fingerprint or e-mail in the GnuPG home), or with a passphrase
(OpenPGP's symmetric mode); it is decrypted on import with the private key
in the GnuPG home the site names (``ATTGIT_GNUPGHOME``, else
``$GNUPGHOME``, else GnuPG's own default) or the passphrase given.
OpenPGP's integrity check (MDC/AEAD) makes a tampered file fail to
decrypt; a wrong key, a wrong passphrase, a damaged file and a missing key
are each a ValidationError (exit 4) that says which.  Decryption is a
stream (:class:`GpgStream`): the plain bytes are never written to disk.
"""

from __future__ import annotations

import contextlib
import io
import os
import queue
import threading
from typing import BinaryIO, Optional

from attgit.errors import ConfigError, NotFound, UsageError, ValidationError
from attgit.format.backup.common import ERROR_MESSAGES

_ARMOR = b"-----BEGIN PGP MESSAGE-----"
_CANNOT = ERROR_MESSAGES["cannot_decrypt"]


class PassphraseError(ValidationError):
    """A passphrase-encrypted file read with a wrong passphrase, or none:
    the file itself may be fine (a page keeps the upload for another try)."""


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


def encrypt(plain: BinaryIO, recipient: Optional[str], output: str, home: Optional[str] = None,
            always_trust: Optional[bool] = None, passphrase: Optional[str] = None) -> None:
    """Encrypt the open file ``plain`` into the path ``output``: for
    ``recipient``'s public key, or (``passphrase`` given, no recipient)
    with OpenPGP's symmetric encryption (AES-256, the passphrase salted and
    stretched by the S2K function, never cached by gpg-agent).

    The recipient's public key must be in the GnuPG home; keys are never
    fetched from the network.  ``always_trust`` (default: the environment's
    ATTGIT_GPG_ALWAYS_TRUST) accepts a key nobody has certified.
    """
    if passphrase is not None:
        return _encrypt_symmetric(plain, output, home, passphrase)
    if not recipient:
        raise UsageError("encrypting needs a recipient's key or a passphrase")
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


def check_passphrase(passphrase: str) -> str:
    """A passphrase gpg can take: not empty, one line (it goes down a pipe
    followed by the file, so a line break would end it early)."""
    if not passphrase:
        raise UsageError("the passphrase is empty")
    if any(c in passphrase for c in "\r\n\x00"):
        raise UsageError("a passphrase cannot hold a line break or a NUL character")
    return passphrase


def _encrypt_symmetric(plain: BinaryIO, output: str, home: Optional[str], passphrase: str) -> None:
    gpg = _gpg(home)
    try:
        result = gpg.encrypt_file(plain, None, symmetric="AES256", passphrase=check_passphrase(passphrase),
                                  output=output, armor=False, extra_args=["--no-symkey-cache"])
    except BrokenPipeError:
        raise ValidationError("cannot encrypt with the passphrase: GnuPG stopped before reading the whole "
                              "backup") from None
    if not (result.ok and getattr(result, "returncode", 0) == 0):
        raise ValidationError(f"cannot encrypt with the passphrase: {_gpg_reason(result)}")


def _no_public_key(recipient: str, where: str) -> NotFound:
    return NotFound(f"no public key for {recipient!r} in {where}: import it first (gpg --import recipient.asc)")


class GpgStream(io.RawIOBase):
    """The plain bytes of an OpenPGP message as gpg writes them to its
    stdout pipe, read as they come: never a file.

    python-gnupg runs gpg in a thread of its own and hands each chunk to
    ``on_data``, which puts it in a small queue this stream reads from: a
    slow reader holds gpg back (the queue, then the pipe, fill up), and
    :meth:`close` kills gpg, so a reader that stops early (a size limit, a
    bad record) stops the decryption too.  gpg's verdict (wrong key, wrong
    passphrase, tampered) is known when the message ends: reading the end
    raises it.
    """

    def __init__(self, source, home: Optional[str], passphrase: Optional[str]):
        super().__init__()
        self._home, self._passphrase_given = home, passphrase is not None
        self._queue: queue.Queue = queue.Queue(maxsize=16)
        self._stopped = threading.Event()
        self._rest = memoryview(b"")
        self._ended = False
        self._process = None
        self.result = None
        self.error: Optional[BaseException] = None
        gpg = _gpg(home)
        gpg.buffer_size, gpg.on_data = 1 << 16, self._on_data
        start = gpg._open_subprocess

        def remember(args, passphrase=False):
            self._process = start(args, passphrase)
            return self._process

        gpg._open_subprocess = remember
        extra = ["--no-symkey-cache"] + ([] if passphrase is not None else ["--pinentry-mode", "error"])
        self._thread = threading.Thread(target=self._run, args=(gpg, source, passphrase, extra), daemon=True,
                                        name="attgit-gpg")
        self._thread.start()

    def _run(self, gpg, source, passphrase, extra) -> None:
        try:
            self.result = gpg.decrypt_file(source, passphrase=passphrase, extra_args=extra)
        except BaseException as exc:  # noqa: BLE001 - handed to the reading thread
            self.error = exc
        finally:
            self._put(None)

    def _on_data(self, chunk: bytes) -> bool:
        if chunk:
            self._put(chunk)
        return False  # not kept in the result: this stream is the only copy

    def _put(self, item) -> None:
        while not self._stopped.is_set():
            try:
                self._queue.put(item, timeout=0.1)
                return
            except queue.Full:
                continue

    def readable(self) -> bool:
        return True

    def readinto(self, b) -> int:
        if not self._rest:
            if self._ended:
                return 0
            item = self._queue.get()
            if item is None:
                self._ended = True
                self._thread.join()
                self.raise_failure()
                return 0
            self._rest = memoryview(item)
        n = min(len(b), len(self._rest))
        b[:n] = self._rest[:n]
        self._rest = self._rest[n:]
        return n

    def drain(self, limit: int) -> None:
        """Read and drop the rest of gpg's output, at most ``limit`` bytes;
        past it gpg is stopped (its verdict then unknown: not raised)."""
        read = 0
        while not self._ended and read <= limit:
            item = self._queue.get()
            if item is None:
                self._ended = True
                self._thread.join()
            else:
                read += len(item)
        if not self._ended:
            self.close()

    def raise_failure(self) -> None:
        """gpg's failure as a ValidationError, once the message has ended."""
        if not self._ended:
            return
        if self.error is not None:
            if isinstance(self.error, ValueError) and "passphrase" in str(self.error).lower():
                raise UsageError("a passphrase cannot hold a line break or a NUL character") from None
            raise ValidationError(f"{_CANNOT}: GnuPG failed: {self.error}") from None
        _check_decrypted(self.result, self._home, self._passphrase_given)

    def close(self) -> None:
        if not self.closed:
            self._stopped.set()
            if self._process is not None and self._process.poll() is None:
                with contextlib.suppress(OSError):
                    self._process.kill()
            while self._thread.is_alive():
                with contextlib.suppress(queue.Empty):
                    self._queue.get(timeout=0.1)
            self._rest = memoryview(b"")
        super().close()


def decrypt_stream(source, home: Optional[str] = None, passphrase: Optional[str] = None) -> GpgStream:
    """Decrypt ``source`` (anything with ``read``) as a stream: the key in
    the GnuPG home, or ``passphrase`` for a passphrase-encrypted message."""
    return GpgStream(source, home, passphrase)


def _check_decrypted(result, home: Optional[str], passphrase_given: bool = False) -> None:
    stderr = result.stderr or ""
    failed = not result.ok or getattr(result, "returncode", 0) != 0 or "DECRYPTION_FAILED" in stderr
    if not failed and "DECRYPTION_OKAY" in stderr and "BADMDC" not in stderr:
        return
    where = gnupg_home(home) or "the default GnuPG home"
    if "NEED_PASSPHRASE_SYM" in stderr and not passphrase_given:
        raise PassphraseError(f"{_CANNOT}: it is encrypted with a passphrase, and none was given "
                              "(--passphrase-file FILE, or the passphrase field)")
    if "BAD_PASSPHRASE" in stderr:
        raise PassphraseError(f"{_CANNOT}: wrong passphrase; nothing was read")
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
        raise ValidationError(f"{_CANNOT}: it is damaged: it has been altered or cut since it was encrypted "
                              f"(GnuPG: {_gpg_reason(result)}); nothing was read")
    raise ValidationError(f"{_CANNOT}: it is damaged or not an OpenPGP message ({_gpg_reason(result)})")


#: What GnuPG says when the secret key is there but locked by a passphrase
#: it could not ask for (no pinentry, no terminal, cancelled, wrong one)
_PASSPHRASE_SIGNS = ("NEED_PASSPHRASE", "MISSING_PASSPHRASE", "BAD_PASSPHRASE", "PINENTRY_LAUNCHED",
                     "Inappropriate ioctl for device", "No pinentry", "Operation cancelled")


def _needs_passphrase(stderr: str) -> bool:
    """A locked private key; never for a passphrase-encrypted (symmetric)
    message, which has no private key and whose own passphrase GnuPG asks
    for with NEED_PASSPHRASE_SYM."""
    if "NO_SECKEY" in stderr or "NEED_PASSPHRASE_SYM" in stderr:
        return False
    return any(sign in stderr for sign in _PASSPHRASE_SIGNS)


def _gpg_reason(result) -> str:
    lines = [line[5:].strip() for line in (result.stderr or "").splitlines() if line.startswith("gpg: ")]
    return "; ".join(lines[-2:]) or (result.status or "GnuPG failed")


def passphrase_from_file(path) -> str:
    """The passphrase in the file ``path``: its first line (the line break
    is not part of it).  A passphrase is never taken from an argument or
    the environment, where other users and logs can read it."""
    try:
        with open(path, "rb") as f:
            first = f.readline(4096)
    except FileNotFoundError:
        raise NotFound(f"passphrase file {os.fspath(path)!r} does not exist") from None
    except OSError as exc:
        raise UsageError(f"cannot read the passphrase file {os.fspath(path)!r}: {exc.strerror or exc}") from None
    try:
        text = first.rstrip(b"\r\n").decode("utf-8")
    except UnicodeDecodeError:
        raise UsageError(f"the passphrase file {os.fspath(path)!r} is not UTF-8 text") from None
    if not text:
        raise UsageError(f"the passphrase file {os.fspath(path)!r} is empty")
    return check_passphrase(text)

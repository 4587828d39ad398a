"""GnuPG problems name their real cause: a GnuPG home that does not exist
is not "install gnupg", and a key locked by a passphrase is not a damaged
file (each said with what to do)."""

from __future__ import annotations

import io
import shutil
import subprocess
import tempfile

import pytest

from attgit.errors import ConfigError, ValidationError
from attgit.format.backup import crypto

pytestmark = pytest.mark.skipif(shutil.which("gpg") is None, reason="needs GnuPG (apt-get install gnupg)")


def test_a_missing_gnupg_home_says_the_folder_not_install_gnupg(tmp_path):
    missing = tmp_path / "no-such-gnupg-home"
    with pytest.raises(ConfigError) as info:
        crypto.decrypt_stream(io.BytesIO(b"\x85\x01"), str(missing))
    text = str(info.value)
    assert f"the GnuPG home {missing} does not exist" in text and "ATTGIT_GNUPGHOME" in text, text
    assert "install" not in text


@pytest.fixture(scope="module")
def locked_key():
    """A GnuPG home whose only key needs the passphrase "secret", and a file
    encrypted for it."""
    home = tempfile.mkdtemp(prefix="agp-")
    subprocess.run(["gpg", "--homedir", home, "--batch", "--pinentry-mode", "loopback", "--passphrase", "secret",
                    "--quick-gen-key", "locked@attgit.invalid", "ed25519", "cert", "never"],
                   check=True, capture_output=True)
    fingerprint = subprocess.run(["gpg", "--homedir", home, "--batch", "--with-colons", "--list-keys"],
                                 check=True, capture_output=True, text=True).stdout
    fpr = next(line.split(":")[9] for line in fingerprint.splitlines() if line.startswith("fpr:"))
    subprocess.run(["gpg", "--homedir", home, "--batch", "--pinentry-mode", "loopback", "--passphrase", "secret",
                    "--quick-add-key", fpr, "cv25519", "encr", "never"], check=True, capture_output=True)
    sealed = subprocess.run(["gpg", "--homedir", home, "--batch", "--trust-model", "always", "--encrypt",
                             "--recipient", "locked@attgit.invalid"], input=b'{"metadata": {}}',
                            check=True, capture_output=True).stdout
    subprocess.run(["gpgconf", "--homedir", home, "--kill", "gpg-agent"], check=False, capture_output=True)
    yield home, sealed
    subprocess.run(["gpgconf", "--homedir", home, "--kill", "gpg-agent"], check=False, capture_output=True)
    shutil.rmtree(home, ignore_errors=True)


def test_a_key_needing_a_passphrase_says_so_and_how_not_damaged(locked_key):
    home, sealed = locked_key
    with pytest.raises(ValidationError) as info:
        with crypto.decrypt_stream(io.BytesIO(sealed), home) as plain:
            plain.read()
    text = str(info.value)
    assert "protected by a passphrase" in text and "gpg-agent" in text and f"GNUPGHOME={home}" in text, text
    assert "altered" not in text and "damaged" not in text, text

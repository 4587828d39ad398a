"""The pages' forms: what a person may send, checked before anything runs."""

from __future__ import annotations

from django import forms

COMMIT_RE = r"\A[0-9a-f]{4,40}\Z"
#: A revision as the CLI takes it: an id or its prefix, HEAD, HEAD~1, HEAD^2,
#: main, prod/main; never a path ("..", a leading "/" or "-")
REVISION_RE = r"\A(?![-/])(?!.*\.\.)[A-Za-z0-9_./~^-]{1,200}\Z"
UPLOAD_RE = r"\A[0-9a-f]{32}\Z"

STRATEGY_CHOICES = [
    ("theirs", "Backup wins: take the file's version of a record that differs"),
    ("ours", "Database wins: keep the database's version"),
    ("manual", "Decide myself: keep the database's version for now and list the conflicts"),
]


#: The strategies in a few words, for summaries.
STRATEGY_NAMES = {"theirs": "backup wins", "ours": "database wins", "manual": "decide myself"}


class BackupForm(forms.Form):
    backup_type = forms.ChoiceField(
        label="Backup", initial="full", widget=forms.RadioSelect,
        choices=[("full", "Full: every company and record"),
                 ("incremental", "Incremental: records changed since a date")])
    since = forms.DateField(label="Changed since", required=False,
                            widget=forms.DateInput(attrs={"type": "date"}))

    compression = forms.ChoiceField(
        label="File", initial="gzip", widget=forms.RadioSelect, required=False,
        choices=[("gzip", "Compressed (.json.gz, several times smaller)"), ("plain", "Plain JSON (.json)")])
    encryption = forms.ChoiceField(label="Encryption", initial="none", widget=forms.RadioSelect, required=False)
    passphrase = forms.CharField(label="Passphrase", required=False, strip=False,
                                 widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}))
    passphrase_again = forms.CharField(label="Passphrase again", required=False, strip=False,
                                       widget=forms.PasswordInput(render_value=False,
                                                                  attrs={"autocomplete": "new-password"}))

    def __init__(self, *args, recipients=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["encryption"].choices = [
            ("none", "None"), ("passphrase", "With a passphrase (needed again to restore; it is not kept)"),
            *((f"key:{r}", f"For the key {r}") for r in recipients)]

    def clean(self):
        data = super().clean()
        if data.get("backup_type") == "incremental" and not data.get("since"):
            self.add_error("since", "An incremental backup needs the date it starts from.")
        if data.get("backup_type") == "full":
            data["since"] = None
        data["compression"] = data.get("compression") or "gzip"
        data["encryption"] = data.get("encryption") or "none"
        self._clean_passphrase(data)
        return data

    def _clean_passphrase(self, data: dict) -> None:
        from attgit.errors import UsageError
        from attgit.format.backup.crypto import check_passphrase

        if data["encryption"] != "passphrase":
            data["passphrase"] = None
            return
        try:
            check_passphrase(data.get("passphrase") or "")
        except UsageError as exc:
            self.add_error("passphrase", f"{str(exc)[0].upper()}{str(exc)[1:]}.")
            return
        if data.get("passphrase") != data.get("passphrase_again"):
            self.add_error("passphrase_again", "The two passphrases differ.")


def backup_file_field() -> forms.FileField:
    """An uploaded backup file: plain, gzipped or encrypted (told by its
    content, not its name; see :mod:`attgit.format.backup.source`)."""
    return forms.FileField(label="Backup file (.json, .json.gz, encrypted .gpg)", allow_empty_file=True,
                           widget=forms.ClearableFileInput(attrs={
                               "accept": ".json,.gz,.gpg,.asc,application/json,application/gzip"}))


def file_passphrase_field() -> forms.CharField:
    """The passphrase of an uploaded file: never shown again (not even
    on a page that answers with an error), never kept."""
    return forms.CharField(label="Passphrase (only for a file encrypted with one)", required=False,
                           strip=False, widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "off"}))


class UploadForm(forms.Form):
    backup_file = backup_file_field()
    passphrase = file_passphrase_field()


class SourceForm(forms.Form):
    """Where a restore comes from: a kept upload or a commit (exactly one)."""

    upload = forms.RegexField(UPLOAD_RE, required=False)
    commit = forms.RegexField(COMMIT_RE, required=False)
    strategy = forms.ChoiceField(choices=STRATEGY_CHOICES, required=False, widget=forms.RadioSelect)
    date_from = forms.DateField(label="From", required=False)
    date_to = forms.DateField(label="To", required=False)
    #: the preview's signed token (:mod:`.confirm`), on an apply
    token = forms.CharField(required=False, max_length=20000)

    def selection_data(self, data) -> dict:
        """The selection as sent: the chosen companies (a repeated field) and the dates."""
        return {"companies": data.getlist("companies"),
                "date_from": self.cleaned_data["date_from"].isoformat() if self.cleaned_data["date_from"] else "",
                "date_to": self.cleaned_data["date_to"].isoformat() if self.cleaned_data["date_to"] else ""}

    def clean(self):
        data = super().clean()
        if bool(data.get("upload")) == bool(data.get("commit")):
            raise forms.ValidationError("Choose a backup file or a snapshot to restore.")
        return data


_NOT_A_REVISION = "Not a revision: give a commit id (or its first characters), HEAD, HEAD~1 or a branch."


class CompareForm(forms.Form):
    a = forms.RegexField(REVISION_RE, label="From", error_messages={"invalid": _NOT_A_REVISION})
    b = forms.RegexField(REVISION_RE, label="To", error_messages={"invalid": _NOT_A_REVISION})


class CompareFileForm(forms.Form):
    """A backup file on one side of a comparison, a snapshot on the other."""

    backup_file = backup_file_field()
    passphrase = file_passphrase_field()
    commit = forms.RegexField(COMMIT_RE, label="Snapshot", error_messages={"invalid": "Not a commit id."})
    side = forms.ChoiceField(label="The file is", choices=[("a", "From (the older side)"), ("b", "To (the newer side)")],
                             initial="b", widget=forms.RadioSelect)


def errors_of(form: forms.Form) -> str:
    """A form's errors as one sentence for a page message."""
    parts = []
    for name, errors in form.errors.items():
        label = form.fields[name].label if name in form.fields else ""
        parts.extend(f"{label}: {e}" if label else e for e in errors)
    return " ".join(parts)

"""The pages' forms: what a person may send, checked before anything runs."""

from __future__ import annotations

from django import forms

COMMIT_RE = r"\A[0-9a-f]{4,40}\Z"
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

    def clean(self):
        data = super().clean()
        if data.get("backup_type") == "incremental" and not data.get("since"):
            self.add_error("since", "An incremental backup needs the date it starts from.")
        if data.get("backup_type") == "full":
            data["since"] = None
        return data


class UploadForm(forms.Form):
    backup_file = forms.FileField(label="Backup file (.json)", allow_empty_file=True,
                                  widget=forms.ClearableFileInput(attrs={"accept": ".json,application/json"}))


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


class CompareForm(forms.Form):
    a = forms.RegexField(COMMIT_RE, label="From", error_messages={"invalid": "Not a commit id."})
    b = forms.RegexField(COMMIT_RE, label="To", error_messages={"invalid": "Not a commit id."})


def errors_of(form: forms.Form) -> str:
    """A form's errors as one sentence for a page message."""
    parts = []
    for name, errors in form.errors.items():
        label = form.fields[name].label if name in form.fields else ""
        parts.extend(f"{label}: {e}" if label else e for e in errors)
    return " ".join(parts)

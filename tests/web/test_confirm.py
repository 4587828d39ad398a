"""A confirm applies exactly what was previewed (issue 17 part 1, issue 20
part 2): the restore page's Apply, the admin's sync confirm and the
conflicts page's bulk buttons carry a signed token of the choices and of
the state previewed; anything else is refused and changes nothing."""

from __future__ import annotations

import io
from html import unescape

import pytest
from django.core import signing
from django.utils import timezone

from attgit.ops.mergestate import MergeState
from django_adapter.models import AttendanceRecord, BackupLog, Job
from django_adapter.repository import open_repository
from django_adapter.web import confirm, jobs

from .conftest import backup_bytes, bulk_form, confirm_form, finished_job, messages_of, seed

pytestmark = pytest.mark.django_db



def everything() -> dict:
    return {(r.ep_no, r.company.name, r.date.isoformat()): (r.status, r.overstay, r.shift)
            for r in AttendanceRecord.objects.select_related("company")}


def upload(client, content: bytes):
    f = io.BytesIO(content)
    f.name = "backup.json"
    response = client.post("/restore/", {"backup_file": f})
    assert response.status_code == 302, messages_of(response)
    return response["Location"].split("upload=")[1].split("&")[0]


def preview(client, upload_id: str, **query):
    """The preview page for these choices (its job runs inline)."""
    from django.utils.http import urlencode

    response = client.get(f"/restore/preview/?{urlencode({'upload': upload_id, **query}, doseq=True)}")
    assert response.status_code == 302 and "job=" in response["Location"], response
    shown = client.get(response["Location"])
    assert shown.status_code == 200, messages_of(shown)
    return shown


@pytest.fixture
def differing(root_client):
    """60 records backed up, then 5 changed in the database (5 conflicts)
    and 3 deleted (3 to add back): (upload id, the database now)."""
    seed(60)
    content, _ = backup_bytes(root_client)
    for record in AttendanceRecord.objects.order_by("id")[:5]:
        AttendanceRecord.objects.filter(pk=record.pk).update(overstay="9.5", updated_at=timezone.now())
    AttendanceRecord.objects.filter(pk__in=list(AttendanceRecord.objects.order_by("-id")
                                                .values_list("id", flat=True)[:3])).delete()
    return upload(root_client, content), everything()


def refused(client, data: dict, before: dict) -> str:
    """Post an Apply; insist it was refused and changed nothing; its message."""
    response = client.post("/restore/apply/", data, follow=True)
    said = " ".join(messages_of(response))
    assert not Job.objects.filter(kind__in=(Job.IMPORT, Job.CHECKOUT)).exists(), said
    assert everything() == before
    assert not BackupLog.objects.filter(operation="restore").exists()
    return said


def test_a_strategy_changed_after_the_preview_is_refused(root_client, differing):
    upload_id, before = differing
    shown = preview(root_client, upload_id, strategy="theirs")
    said = refused(root_client, confirm_form(shown, strategy="ours"), before)
    assert "you changed the strategy since the preview: preview again" in said
    # the page it lands on is the preview of the new choice, with its own token
    again = preview(root_client, upload_id, strategy="ours")
    job = finished_job(root_client, root_client.post("/restore/apply/", confirm_form(again)))
    assert job.status == "done" and job.result["strategy"] == "database wins", job.error
    assert everything() == {**before, **{k: v for k, v in everything().items() if k not in before}}
    assert len(everything()) == 60  # the 3 deleted came back; the 5 changed kept the database's values


@pytest.mark.parametrize("field,value,words", [
    ("companies", ["Company 001"], "the companies"),
    ("date_from", "2024-01-02", "the first date"),
    ("date_to", "2024-01-02", "the last date"),
])
def test_a_selection_changed_after_the_preview_is_refused(root_client, differing, field, value, words):
    upload_id, before = differing
    shown = preview(root_client, upload_id)
    assert f"you changed {words} since the preview" in refused(root_client, confirm_form(shown, **{field: value}),
                                                                before)


def test_a_tampered_token_is_refused(root_client, differing):
    upload_id, before = differing
    shown = preview(root_client, upload_id)
    token = shown.context["token"]
    payload = signing.loads(token, salt=confirm.SALT)
    payload["choices"]["strategy"] = "ours"  # re-encoded without the key: not ours
    forged = signing.dumps(payload, salt=confirm.SALT + "x", compress=True)
    assert "does not come from a preview of this site" in refused(
        root_client, confirm_form(shown, token=forged, strategy="ours"), before)
    flipped = token[:-3] + ("A" if token[-3] != "A" else "B") + token[-2:]
    assert "does not come from a preview" in refused(root_client, confirm_form(shown, token=flipped), before)
    assert "does not come from a preview" in refused(root_client, confirm_form(shown, token=""), before)


def test_a_token_of_another_upload_is_refused(root_client, differing):
    upload_id, before = differing
    content, _ = backup_bytes(root_client)
    other = upload(root_client, content)
    mine = preview(root_client, upload_id)
    theirs = preview(root_client, other)
    said = refused(root_client, confirm_form(theirs, token=mine.context["token"]), before)
    assert "you changed what to restore since the preview" in said


def test_an_old_token_is_refused(root_client, differing, monkeypatch):
    upload_id, before = differing
    shown = preview(root_client, upload_id)
    monkeypatch.setattr(confirm, "MAX_AGE", -1)
    assert "more than a day old" in refused(root_client, confirm_form(shown), before)


def test_a_database_edited_after_the_preview_is_refused(root_client, differing):
    upload_id, _ = differing
    shown = preview(root_client, upload_id)
    AttendanceRecord.objects.filter(pk=AttendanceRecord.objects.order_by("id").last().pk).update(status="L")
    after_edit = everything()
    said = refused(root_client, confirm_form(shown), after_edit)
    assert "the database changed since the preview" in said and "nothing was applied" in said


def test_a_repository_moved_after_the_preview_is_refused(root_client, differing):
    upload_id, before = differing
    shown = preview(root_client, upload_id)
    finished_job(root_client, root_client.post("/backup/", {"backup_type": "full"}))  # commits the database
    said = refused(root_client, confirm_form(shown), before)
    assert "the repository" in said and "changed since the preview" in said


def test_a_file_changed_after_the_preview_is_refused(root_client, differing):
    from django_adapter.models import Upload
    from django_adapter.web import uploads

    upload_id, before = differing
    shown = preview(root_client, upload_id)
    path = uploads.path_of(Upload.objects.get(pk=upload_id))
    path.write_bytes(path.read_bytes() + b"\n")  # still a valid file, not the one previewed
    assert "the uploaded file changed since the preview" in refused(root_client, confirm_form(shown), before)


def test_the_worker_checks_again_under_its_locks(root_client, differing, settings):
    """A writer that goes between the click and the worker: the job fails, nothing changes."""
    from .conftest import QUEUED_ONLY

    upload_id, before = differing
    shown = preview(root_client, upload_id)
    settings.TASKS = QUEUED_ONLY
    response = root_client.post("/restore/apply/", confirm_form(shown))
    job = Job.objects.get(kind=Job.IMPORT)
    assert response["Location"].endswith(f"/jobs/{job.pk}/") and job.status == Job.QUEUED
    AttendanceRecord.objects.filter(pk=AttendanceRecord.objects.order_by("id").last().pk).update(status="L")
    after_edit = everything()
    jobs.run(job.pk)
    job.refresh_from_db()
    assert job.status == Job.FAILED and "the database changed since the preview" in job.error
    assert everything() == after_edit
    page = root_client.get(f"/jobs/{job.pk}/").content.decode()
    assert "the database changed since the preview" in page


def test_update_the_preview_previews_the_form_choices(root_client, differing):
    upload_id, before = differing
    shown = preview(root_client, upload_id)
    response = root_client.post("/restore/apply/", {**confirm_form(shown, strategy="manual"), "action": "preview"})
    assert response.status_code == 302 and "strategy=manual" in response["Location"]
    assert everything() == before and not Job.objects.filter(kind=Job.IMPORT).exists()


# --- selective restore ------------------------------------------------------------------------

def test_a_selective_restore_previews_applies_and_logs_only_its_selection(root_client, differing):
    upload_id, before = differing
    whole = preview(root_client, upload_id)
    companies = whole.context["available"]
    assert len(companies) == 3
    chosen = companies[0]
    part = preview(root_client, upload_id, companies=[chosen])
    in_chosen = {k for k in before if k[1] == chosen}
    assert part.context["selection"] == {"companies": [chosen], "date_from": "", "date_to": ""}
    assert part.context["counts"]["total"] <= whole.context["counts"]["total"]
    assert 'value="%s" checked' % chosen in part.content.decode()
    job = finished_job(root_client, root_client.post("/restore/apply/", confirm_form(part)))
    assert job.status == "done", job.error
    now = everything()
    assert {k: v for k, v in now.items() if k[1] != chosen} == {k: v for k, v in before.items() if k[1] != chosen}
    assert all(now[k][1] != "9.5" for k in now if k[1] == chosen)  # backup wins inside the selection
    assert set(now) >= in_chosen
    log = BackupLog.objects.get(operation="restore")
    assert log.details["selection"] == {"companies": [chosen], "date_from": "", "date_to": ""}
    assert job.result["selection"]["companies"] == [chosen]


def test_a_date_range_restores_only_those_days(root_client, differing):
    upload_id, before = differing
    dates = sorted({k[2] for k in before})
    first = dates[0]
    part = preview(root_client, upload_id, date_from=first, date_to=first)
    job = finished_job(root_client, root_client.post("/restore/apply/", confirm_form(part)))
    assert job.status == "done", job.error
    now = everything()
    assert {k: v for k, v in now.items() if k[2] != first} == {k: v for k, v in before.items() if k[2] != first}


def test_a_company_not_in_the_file_is_a_clear_message(root_client, differing):
    upload_id, _ = differing
    response = root_client.get(f"/restore/preview/?upload={upload_id}&companies=Nope+Ltd", follow=True)
    said = " ".join(messages_of(response))
    assert "no company 'Nope Ltd' in the file" in said


def test_dates_in_the_wrong_order_are_a_clear_message(root_client, differing):
    upload_id, _ = differing
    response = root_client.get(f"/restore/preview/?upload={upload_id}&date_from=2024-02-01&date_to=2024-01-01")
    assert response.status_code == 400
    assert "is after" in " ".join(messages_of(response))


# --- bulk resolution ------------------------------------------------------------------------

def _manual(client, differing) -> None:
    upload_id, _ = differing
    shown = preview(client, upload_id, strategy="manual")
    job = finished_job(client, client.post("/restore/apply/", confirm_form(shown)))
    assert job.result["status"] == "conflicts" and job.result["pending"] == 5


def test_a_bulk_resolution_whose_conflicts_changed_is_refused(root_client, differing):
    _manual(root_client, differing)
    form = bulk_form(root_client, "theirs")
    state = MergeState.load(open_repository())
    first = state.pending()[0]
    one = root_client.post("/conflicts/resolve/", {"conflict": first.id, "side": "ours"}, follow=True)
    assert "4 left" in " ".join(messages_of(one))
    response = root_client.post("/conflicts/resolve/", form, follow=True)
    assert "the conflicts it would resolve changed since the preview" in " ".join(messages_of(response))
    assert not Job.objects.filter(kind=Job.RESOLVE).exists()
    assert len(MergeState.load(open_repository()).pending()) == 4


def test_a_bulk_resolution_with_another_side_than_its_button_is_refused(root_client, differing):
    _manual(root_client, differing)
    form = bulk_form(root_client, "ours")
    response = root_client.post("/conflicts/resolve/", {**form, "all": "theirs"}, follow=True)
    assert "you changed the side to keep since the preview" in " ".join(messages_of(response))
    company = MergeState.load(open_repository()).pending()[0].key[1]
    response = root_client.post("/conflicts/resolve/", {**form, "company": company}, follow=True)
    assert "you changed the filter since the preview" in " ".join(messages_of(response))
    assert len(MergeState.load(open_repository()).pending()) == 5
    job = finished_job(root_client, root_client.post("/conflicts/resolve/", form))
    assert (job.result["resolved"], job.result["side"]) == (5, "ours")


# --- words: one count per record, progress while comparing ------------------------------------

@pytest.mark.parametrize("strategy,differ_words", [
    ("theirs", "differ: the file's version is taken"),
    ("ours", "differ: the database's version is kept"),
    ("manual", "differ: they wait for you to decide"),
])
def test_the_preview_counts_each_record_once(root_client, differing, strategy, differ_words):
    upload_id, _ = differing
    shown = preview(root_client, upload_id, strategy=strategy)
    n = shown.context["per_record"]
    assert (n["add"], n["differ"], n["identical"], n["total"]) == (3, 5, 52, 60)
    html = unescape(shown.content.decode())
    assert 'data-count="differ">5<' in html and differ_words in html
    assert 'data-count="conflicts"' not in html and 'data-count="update"' not in html
    job = finished_job(root_client, root_client.post("/restore/apply/", confirm_form(shown)))
    r = job.result
    assert r["added"] + r["updated"] + r["kept"] + r["waiting"] + r["identical"] == 60


def test_comparing_reports_counts(root_client, differing, monkeypatch):
    seen = []
    real = jobs.Progress.update

    def update(self, phase, done=0, total=0, force=False):
        seen.append((phase, done, total))
        return real(self, phase, done, total, force)

    monkeypatch.setattr(jobs.Progress, "update", update)
    upload_id, _ = differing
    preview(root_client, upload_id)
    comparing = [(done, total) for phase, done, total in seen if phase == "Comparing with the database" and total]
    assert comparing and comparing[-1] == (60, 60) and comparing[0][0] < 60

"""Bad backup files from every door (issues 11.3 and 12.2): the CLI, the
design document's commands, RestoreService and the web preview list every
problem with its place; warnings the document asks for are shown and
logged."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from dj_helpers import attgit, cli_entry, reset_db, through_the_worker
from django.core.management import CommandError, call_command

from attgit.errors import ExitCode
from attgit.format import records as rec
from django_adapter.models import AttendanceRecord, BackupLog, Company
from django_adapter.services import RestoreService

pytestmark = pytest.mark.django_db(transaction=True)



@pytest.fixture
def site(wc, settings, tmp_path):
    settings.ATTGIT_REPO = str(tmp_path / "repo.git")
    reset_db()
    wc.bulk_load([rec.normalise({"ep_no": f"E{i}", "company": "A Corp", "date": "2025-01-02", "status": "P"})
                  for i in range(6)])
    path = tmp_path / "full.json"
    call_command("backup_data", "--output", str(path))
    attgit("init")
    return path


def three_faults(path, tmp_path):
    document = json.loads(path.read_bytes())
    records = document["attendance_records"]
    records[1]["status"] = "X"
    records[3]["date"] = "2025-02-30"
    records[4]["ep_name"] = "Tampered"
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(document, indent=1))
    return bad


def test_the_cli_lists_every_problem(site, tmp_path):
    output = attgit("import", str(three_faults(site, tmp_path)), "--preview", code=ExitCode.INVALID_DATA)
    assert "and 2 more problems" in output
    lines = [line for line in output.splitlines() if line.startswith("  ")]
    assert len(lines) == 3
    assert "record 2: E1 @ A Corp on 2025-01-02" in lines[0] and "field 'status'" in lines[0]
    assert "record 4" in lines[1] and "field 'date'" in lines[1]
    assert "record 5" in lines[2] and "checksum" in lines[2]


def test_restore_data_lists_every_problem(site, tmp_path, capsys):
    with pytest.raises(CommandError, match="and 2 more problems"):
        call_command("restore_data", "--input", str(three_faults(site, tmp_path)), "--preview")
    err = capsys.readouterr().err
    assert "1. " in err and "2. " in err and "3. " in err and "field 'date'" in err


def test_validate_backup_reports_every_problem_as_data(site, tmp_path):
    report = RestoreService().validate_backup(three_faults(site, tmp_path))
    assert report["valid"] is False and report["error_count"] == 3 and len(report["errors"]) == 3
    assert [(p["record"], p["field"]) for p in report["problems"]] == [(2, "status"), (4, "date"), (5, None)]
    assert report["problems"][0]["key"] == "E1 @ A Corp on 2025-01-02"
    assert RestoreService().validate_backup(site) == {"valid": True, "errors": [], "warnings": [],
                                                      "error_count": 0, "problems": []}


@pytest.mark.parametrize("content, says", [
    (b"", "it is empty (0 bytes)"),
    (b"{\"metadata\": {\"version\": \"1.0\"", "it is cut short: it ends at byte 30, inside the metadata"),
])
def test_the_cli_says_file_empty_and_cut_short(site, tmp_path, content, says):
    bad = tmp_path / "bad.json"
    bad.write_bytes(content)
    output = attgit("import", str(bad), code=ExitCode.INVALID_DATA)
    assert "The file is not valid JSON" in output and says in output
    assert "uploaded" not in output


def test_a_truncated_file_names_the_byte_and_the_record(site, tmp_path):
    data = site.read_bytes()
    cut = data.index(b'"E3"')
    (tmp_path / "cut.json").write_bytes(data[:cut])
    output = attgit("import", str(tmp_path / "cut.json"), code=ExitCode.INVALID_DATA)
    assert f"it ends at byte {cut:,}, inside record 4" in output


# --- warnings ---------------------------------------------------------------------------------

def test_unlisted_and_created_companies_are_warned_about_and_logged(site, tmp_path):
    document = json.loads(site.read_bytes())
    extra = rec.normalise({"ep_no": "N1", "company": "New Corp", "date": "2025-01-03", "status": "P"})
    document["attendance_records"].append({**{("company_name" if k == "company" else k): v
                                              for k, v in extra.items()}, "checksum": rec.checksum(extra)})
    document["metadata"]["total_attendance_records"] += 1
    path = tmp_path / "unlisted.json"
    path.write_text(json.dumps(document))
    preview = CliRunner().invoke(cli_entry, ["import", str(path), "--preview"])
    assert preview.exit_code == 0, preview.output
    said = [line for line in preview.stderr.splitlines() if "New Corp" in line]
    assert said == ["attgit: warning: Some records reference non-existent companies: 'New Corp' (1 record) is in "
                    "neither the file's company list nor the database and will be created"], preview.stderr
    report = RestoreService().validate_backup(path)
    assert report["valid"] and len(report["warnings"]) == 1 and "would be created" in report["warnings"][0]
    call_command("restore_data", "--input", str(path))
    log = BackupLog.objects.filter(operation="restore").latest("created_at")
    assert any("New Corp" in w for w in log.details["warnings"])
    assert AttendanceRecord.objects.filter(company__name="New Corp").count() == 1


def test_an_unlisted_company_the_database_has_is_not_called_non_existent(site, tmp_path):
    document = json.loads(site.read_bytes())
    known = document["companies"].pop(0)["name"]  # records of it stay; the database has it
    document["metadata"]["total_companies"] -= 1
    path = tmp_path / "unlisted.json"
    path.write_text(json.dumps(document))
    preview = CliRunner().invoke(cli_entry, ["import", str(path), "--preview"])
    assert preview.exit_code == 0, preview.output
    assert "non-existent" not in preview.stderr and "will be created" not in preview.stderr, preview.stderr
    assert known in {c.name for c in Company.objects.all()}


def test_an_incremental_file_onto_an_older_database_is_warned_about(site, tmp_path, capsys):
    inc = tmp_path / "inc.json"
    call_command("backup_data", "--type", "incremental", "--since", "2999-01-01", "--output", str(inc))
    call_command("restore_data", "--input", str(inc), "--preview")
    assert "this incremental backup holds the changes since 2999-01-01" in capsys.readouterr().err
    report = RestoreService().validate_backup(inc)
    assert any("database is older" in w for w in report["warnings"])
    call_command("backup_data", "--type", "incremental", "--since", "2000-01-01", "--output", str(inc), "--force")
    assert not RestoreService().validate_backup(inc)["warnings"]


def test_the_web_preview_lists_every_problem_in_the_uploads_words(site, tmp_path, client, django_user_model,
                                                                   settings):
    settings.ATTGIT_UPLOAD_DIR = str(tmp_path / "uploads")
    settings.ATTGIT_JOB_DIR = str(tmp_path / "jobs")
    client.force_login(django_user_model.objects.create_user("root", password="x", role="root"))
    with open(three_faults(site, tmp_path), "rb") as f:
        response = through_the_worker(client, client.post("/restore/", {"backup_file": f}))
    page = response.content.decode()
    assert response.status_code == 400, page[:2000]
    assert "and 2 more problems" in page and "field &#x27;date&#x27;" in page and "record 5" in page
    shown = next(m for m in page.split("<li") if "more problems" in m)  # one message, each problem a line
    lines = shown.split("<br>")
    assert len(lines) == 4 and [line.strip()[:2] for line in lines[1:]] == ["1.", "2.", "3."], shown
    (tmp_path / "junk.json").write_bytes(b"not json at all")
    with open(tmp_path / "junk.json", "rb") as f:
        page = through_the_worker(client, client.post("/restore/", {"backup_file": f})).content.decode()
    assert "The uploaded file is not valid JSON" in page

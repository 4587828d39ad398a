"""What every attgit command shares: the command group, the lazily opened
repository and backend, the writers' locks, and output helpers.
"""


from __future__ import annotations

import contextlib
import importlib
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Optional

import click

from attgit import __version__
from attgit.errors import AttgitError, ConfigError, NotFound, PermissionDenied, UsageError
from attgit.words import plural

if TYPE_CHECKING:  # imported where used: `attgit --version` and `attgit log` start without them
    from attgit.ops.backend import Backend
    from attgit.repo.repository import Author, Repository

#: The default of --backend (attgit.ops.backend.DEFAULT_BACKEND, which a test keeps equal):
#: importing that module here would load pygit2 before any command needs it.
DEFAULT_BACKEND = "django_adapter.backend:open_backend"


class App:
    """What every command needs, opened lazily: repository, backend, locks."""

    def __init__(self, repo: Optional[str], settings: Optional[str], backend: str, wait: float, user: Optional[str],
                 verbose: bool = False):
        self.repo_arg, self.settings, self.backend_spec = repo, settings, backend
        self.wait, self.user, self.verbose = wait, user, verbose
        self._said_where = False
        self._backend: Optional[Backend] = None
        self._repo: Optional[Repository] = None
        self._author: Optional[Author] = None
        self._capture_checked = False

    @property
    def backend(self) -> Backend:
        from attgit.ops.backend import load_backend

        if self._backend is None:
            self._backend = load_backend(self.backend_spec, self.settings)
            _EXPLAINERS.append(self._backend.explain)
        return self._backend

    def repo_path(self) -> str:
        path = self.repo_arg or os.environ.get("ATTGIT_REPO")
        if not path:
            path = self.backend.repo_path
        if not path:
            raise ConfigError("no repository given: pass --repo PATH, set ATTGIT_REPO or the ATTGIT_REPO setting")
        return path

    def where(self) -> str:
        """Which database and repository this command acts on, in one line,
        so that a command run from the wrong folder or with the wrong
        settings says so before it acts."""
        try:
            database = self.backend.database or "the backend's database"
        except ConfigError:
            database = "no database (no settings)"
        try:
            repository = str(Path(self.repo_path()).resolve())
        except ConfigError:
            repository = "(none given)"
        return f"database {database}; repository {repository}"

    def say_where(self) -> None:
        """With -v, say :meth:`where` on stderr, once, before acting."""
        if self.verbose and not self._said_where:
            self._said_where = True
            click.echo(f"attgit: {self.where()}", err=True)

    @property
    def repo(self) -> Repository:
        from attgit.repo.repository import Repository

        if self._repo is None:
            self._repo = Repository.open(self.repo_path())
            _sweep_spools(self._repo.path)
        return self._repo

    @property
    def author(self) -> Author:
        """Who acts: decided by the backend (Django: the named user must be
        an active root user; none named, the operator's login)."""
        if self._author is None:
            self._author = self._identify(self.backend)
        return self._author

    def _identify(self, backend: Backend) -> Author:
        from attgit.repo.repository import Author, default_author

        named = self.user or os.environ.get("ATTGIT_USER") or None
        if backend.identify is not None:
            return backend.identify(named)
        base = backend.author or default_author()
        return Author(named, "", base.time) if named else base

    def check_user(self, command: Optional[str]) -> None:
        """Refuse a user who may not act before the command runs (the
        refusal is audited): the one named by --user/$ATTGIT_USER, else the
        shell's login when it names a user of the site.  With no database
        set up there are no accounts to check against, and only the
        commands that need none can run; without a name, a database that
        cannot be asked is left for the command to report."""
        named = self.user or os.environ.get("ATTGIT_USER") or None
        try:
            backend = self.backend
        except ConfigError:
            return
        except Exception:  # noqa: BLE001 - a backend that cannot load is the command's to report
            if named:
                raise
            return
        try:
            self._author = self._identify(backend)
        except PermissionDenied as exc:
            with contextlib.suppress(Exception):
                backend.log(command or "sync", user=named or _login(), success=False, error=str(exc),
                            refused=True)
            source = ("--user" if self.user else "$ATTGIT_USER") if named else "the shell's login"
            raise _refusal(exc, command, named or _login(), source) from None
        except Exception:  # noqa: BLE001 - the operator's own check waits for the command
            if named:
                raise

    @contextlib.contextmanager
    def writing(self, operation: str = ""):
        """Both single-writer locks, then reconcile a crash's leftovers.

        A failure is written to the audit log (with the operation's name)
        before it propagates to the user.
        """
        from attgit.ops.reconcile import exclusive

        self.say_where()
        notes: list = []
        with self.audited(operation), exclusive(self.repo, self.backend.db, self.wait, notes):
            for note in notes:
                click.echo(f"attgit: {note}", err=True)
            self.check_capture()
            yield

    @contextlib.contextmanager
    def writing_repo(self, operation: str):
        """The repository's lock alone, for a command that never touches the
        database (push): no database lock, no reconcile, so it neither waits
        for nor starts the database; a failure is audited as in writing()."""
        with self.audited(operation), self.repo_lock():
            yield

    @contextlib.contextmanager
    def repo_lock(self):
        """The repository's lock, saying what taking it cleared after a
        killed holder (git's lock files, see attgit.repo.stalelocks)."""
        with self.repo.lock(self.wait):
            for note in self.repo.take_recovered():
                click.echo(f"attgit: {note}", err=True)
            yield

    @contextlib.contextmanager
    def audited(self, operation: str):
        """Write a failure to the audit log (with the operation's name)
        before it propagates to the user."""
        try:
            yield
        except AttgitError as exc:
            if operation:
                with contextlib.suppress(Exception):
                    self.log(operation, success=False, error=str(exc))
            raise

    def check_capture(self) -> None:
        """Say once (on stderr) when the database keeps no change log:
        attgit then compares every row rather than trust an empty log."""
        if self._capture_checked:
            return
        self._capture_checked = True
        if not self.backend.db.capture_installed():
            from attgit.ops.capture import MISSING_LOG

            click.echo(f"attgit: warning: {MISSING_LOG}", err=True)

    def log(self, operation: str, **details) -> None:
        """Write the audit log (the BackupLog in Django)."""
        self.backend.log(operation, user=self.author.name, **details)

    def log_quietly(self, operation: str, **details) -> None:
        """Audit a command that changes no data (init, remote, fetch, verify):
        it still works where no database is set up.  Commands that only read
        (status, log, diff, show, conflicts) are not audited at all."""
        try:
            self.log(operation, **details)
        except Exception:  # noqa: BLE001 - an audit row must not fail a read
            pass


#: Commands that only read: a refused --user need not stop them
READ_ONLY = frozenset({"status", "log", "show", "diff", "conflicts", "verify"})


def _refusal(exc: PermissionDenied, command: Optional[str], named: Optional[str], source: str) -> PermissionDenied:
    """What was refused and why: the command, the user it was to act as and
    where that name came from, then the reason; for a command that only
    reads, how to run it anyway (as the operator at the shell)."""
    reason = str(exc)
    text = f"refused to run `attgit {command or ''}` as user {named!r} (from {source}): {reason}"
    if command in READ_ONLY and source != "the shell's login":
        unset = "without --user" if source == "--user" else "with ATTGIT_USER unset"
        text += (f". `attgit {command}` only reads, and needs no account: run it {unset} "
                 "to read as the operator at the shell")
    return PermissionDenied(text)


pass_app = click.make_pass_decorator(App)

#: How each backend opened in this process turns its own exceptions (an
#: unreachable database, missing tables) into attgit errors; see explain().
#: libgit2's errors about damaged objects are explained first.
_EXPLAINERS: list = []


def explain(exc: BaseException) -> Optional[AttgitError]:
    """The attgit error a backend makes of a foreign exception, or None."""
    from attgit.format import objects

    for explainer in [objects.explain_git_error, *_EXPLAINERS]:
        explained = explainer(exc)
        if explained is not None:
            return explained
    return None


class ExampleCommand(click.Command):
    """A command whose help ends with its example line: the docstring's
    closing ``Example:`` paragraph is shown after the options, where a
    reader of ``--help`` looks last (git and sqlite-utils do the same)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        _move_example(self)


class ExampleGroup(click.Group):
    """A group of ExampleCommands (``attgit remote add`` and the like)."""

    command_class = ExampleCommand

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        _move_example(self)


ExampleGroup.group_class = ExampleGroup

#: The modules holding the commands (attgit/cli/<family>.py); a new one is
#: added here.
FAMILIES = ("history", "maintenance", "merge", "remote", "restore")
#: Which family holds a command: running it imports that module alone.  A
#: command missing here is still found (every family is imported then).
COMMAND_FAMILY = {
    **dict.fromkeys(("init", "commit", "status", "log", "show", "diff", "verify"), "history"),
    "gc": "maintenance",
    **dict.fromkeys(("conflicts", "resolve", "merge"), "merge"),
    **dict.fromkeys(("remote", "fetch", "push", "pull", "clone"), "remote"),
    **dict.fromkeys(("checkout", "import", "export"), "restore"),
}


def load_commands(family: Optional[str] = None) -> None:
    """Import one family of commands (registering them), or every family."""
    for name in (family,) if family else FAMILIES:
        importlib.import_module(f"attgit.cli.{name}")


class LazyGroup(ExampleGroup):
    """The top command group: a command's module is imported when the
    command is looked up, so `attgit log` never imports what `attgit pull`
    needs (start-up is most of a short command's time)."""

    def get_command(self, ctx, cmd_name):
        if cmd_name not in self.commands:
            load_commands(COMMAND_FAMILY.get(cmd_name))
        if cmd_name not in self.commands:
            load_commands()
        return super().get_command(ctx, cmd_name)

    def list_commands(self, ctx):
        load_commands()
        return super().list_commands(ctx)


class TopGroup(LazyGroup):
    """The ``attgit`` group: commands imported when looked up
    (:class:`LazyGroup`), and the subcommand's arguments kept where its own
    callback can see them (so ``attgit CMD --help`` asks nobody's role)."""

    def parse_args(self, ctx: click.Context, args: list) -> list:
        rest = super().parse_args(ctx, args)
        ctx.meta["attgit.subcommand_args"] = list(rest)
        return rest


def _move_example(command: click.Command) -> None:
    text = command.help or ""
    head, sep, example = text.rpartition("Example:")
    if sep and not command.epilog:
        command.help = head.rstrip()
        command.epilog = "Example: " + " ".join(example.split())


def emit_json(data) -> None:
    click.echo(_json_text(data))


def _json_text(data) -> str:
    import orjson

    return orjson.dumps(data, option=orjson.OPT_INDENT_2 | orjson.OPT_NON_STR_KEYS, default=str).decode()


def emit_json_stream(head: dict, key: str, items) -> None:
    """``head`` with ``key`` holding the list ``items``, printed as one JSON
    document (indented as :func:`emit_json` does) while the items come, so
    that only one of them is in memory at a time.  An error half-way leaves
    the document unfinished, and the command's exit code says so."""
    def indented(value, depth: int) -> str:
        return _json_text(value).replace("\n", "\n" + "  " * depth)

    body = indented(head, 0)
    click.echo(body[:-2] + ",\n" if head else "{\n", nl=False)
    click.echo(f"  {indented(key, 1)}: [", nl=False)
    first = True
    for item in items:
        click.echo(("\n" if first else ",\n") + "    " + indented(item, 2), nl=False)
        first = False
    click.echo("]\n}" if first else "\n  ]\n}")


def progress_bar(total: int, desc: str):
    """A tqdm bar on a terminal; elsewhere (a log file, cron) whole lines,
    one per tenth of the way (:class:`LineProgress`), never a redrawn bar."""
    if not _is_terminal(sys.stderr):
        return LineProgress(total, desc)
    from tqdm import tqdm

    return tqdm(total=total, desc=desc, unit="rec", file=sys.stderr, leave=False)


def _is_terminal(stream) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


class LineProgress:
    """Progress where stderr is not a terminal: one line per update, an
    update being each tenth of the way ("import: 30,000 of 100,000
    records"), and only for work big enough to wait for (:data:`FROM`):
    a log gets a few readable lines, not carriage returns or a bar's
    redraws.  Offers what the commands use of tqdm's interface."""

    #: the smallest total, per unit, that reports progress
    FROM = {"rec": 10_000, "obj": 10_000, "company": 20}
    WORDS = {"rec": "record", "obj": "object", "company": "company"}

    def __init__(self, total: int, desc: str):
        self.total, self.desc, self.n, self.unit = total, desc, 0, "rec"
        self._said = 0  # tenths already said

    def __enter__(self) -> "LineProgress":
        return self

    def __exit__(self, *exc) -> None:
        return None

    def update(self, n: int = 1) -> None:
        self.n += n
        self.refresh()

    def refresh(self) -> None:
        if not self.total or self.total < self.FROM.get(self.unit, 10_000):
            return
        tenth = min(10, self.n * 10 // self.total)
        if tenth > self._said:
            self._said = tenth
            word = self.WORDS.get(self.unit, self.unit)
            click.echo(f"{self.desc}: {self.n:,} of {plural(self.total, word)}", err=True)


@click.group(cls=TopGroup, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.option("--repo", "-C", metavar="PATH",
              help="The bare repository (else $ATTGIT_REPO, else the ATTGIT_REPO setting).")
@click.option("--settings", metavar="MODULE", help="Django settings module (else $DJANGO_SETTINGS_MODULE).")
@click.option("--backend", default=lambda: os.environ.get("ATTGIT_BACKEND", DEFAULT_BACKEND), show_default="django",
              metavar="MODULE:FUNCTION", help="Where the database comes from.")
@click.option("--wait", type=float, default=0.0, metavar="SECONDS",
              help="Wait this long for a lock held by another process.")
@click.option("--user", "-u", metavar="NAME",
              help="Act as this user, an active root user (else $ATTGIT_USER, else your login).")
@click.option("--verbose", "-v", is_flag=True,
              help="Say which database and repository a writing command acts on, first.")
@click.version_option(__version__, prog_name="attgit")
@click.pass_context
def cli(ctx, repo, settings, backend, wait, user, verbose):
    """Git for attendance data: snapshot, diff, merge and sync a database.

    Example: attgit --settings attendance_site.settings commit -m "nightly"
    """
    if os.environ.get("NO_COLOR"):  # https://no-color.org: any non-empty value
        ctx.color = False
    ctx.obj = App(repo, settings, backend, wait, user, verbose)
    if _checks_the_user(ctx, user):
        ctx.obj.check_user(ctx.invoked_subcommand)


#: Commands that read the repository alone: without a named user they ask
#: no database who the shell's login is (the repository's own file
#: permissions, private to its owner, say who may read it), so they start
#: no Django at all.
REPOSITORY_ONLY = frozenset({"log", "show"})


def _checks_the_user(ctx: click.Context, user: Optional[str]) -> bool:
    """Whether this command checks who acts before it runs: not for
    `CMD --help`, and for a repository-only command only when a user is named."""
    if {"-h", "--help"} & set(ctx.meta.get("attgit.subcommand_args", ())):
        return False
    return bool(user or os.environ.get("ATTGIT_USER")) or ctx.invoked_subcommand not in REPOSITORY_ONLY


def _login() -> str:
    """The shell's login name (as the Django backend reads it)."""
    import getpass

    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


def record_values(record: dict) -> str:
    from attgit.format import records as rec

    return " ".join(f"{f}={record[f]}" for f in rec.VALUE_FIELDS if record[f] not in (None, ""))


def apply_progress(desc: str, unit: str = "rec"):
    """A progress(done, total) callback driving a tqdm bar, and the bar."""
    bar = progress_bar(0, desc)
    bar.unit = unit

    def update(done: int, total: int) -> None:
        bar.total = total
        bar.n = done
        bar.refresh()

    return update, bar


def pending_error(n: int):
    from attgit.errors import ConflictsPending

    return ConflictsPending(f"{plural(n, 'conflict')} {'waits' if n == 1 else 'wait'} for you: "
                            "`attgit conflicts` lists them, "
                            "`attgit resolve ID --ours|--theirs` settles one, `attgit merge --abort` undoes")


def print_conflicts(conflicts, limit: Optional[int] = None, merge_kind: str = "") -> None:
    """Each conflict and its disputed fields' versions, in the words of a
    merge of ``merge_kind``: an import's are records "different in the
    file", its sides the database and the file, and no base column (a
    backup file has none), as on the web's conflict page."""
    from attgit.format import records as rec
    from attgit.merge.conflict import kind_said, side_names

    names = side_names(merge_kind)
    for c in conflicts[:limit]:
        how = f" -> {c.resolution}" if c.resolution else " (pending)"
        click.echo(f"conflict {c.id} {kind_said(c.kind, merge_kind)} {rec.describe_key(tuple(c.key))}{how}")
        for f in c.fields:
            click.echo(f"    {f}: {versions_line(c, f, names)}")
    if limit is not None and len(conflicts) > limit:
        click.echo(f"... and {len(conflicts) - limit:,} more (use --json for all)")


def versions_line(conflict, name: str, names) -> str:
    """One field's versions side by side ("base 'P' | ours 'A' | theirs
    'L'"); without a base when the conflict has none."""
    shown = [(who, version) for who, version in zip(names, conflict.versions)
             if who != names.base or version is not None]
    return " | ".join(f"{who} {'(absent)' if version is None else repr(version.get(name))}"
                      for who, version in shown)


def default_remote(repo: Repository, name: Optional[str]) -> str:
    """The remote a command means: the one named, else the only one, else
    ``origin`` (git's habit for `pull`, `push` and `fetch` without a name)."""
    if name:
        return name
    names = list(repo.git.remotes.names())
    if len(names) == 1:
        return names[0]
    if "origin" in names:
        return "origin"
    if not names:
        raise NotFound("no remote yet: add one with `attgit remote add NAME URL`")
    raise UsageError(f"which remote? there are {len(names)} and none is called origin: {', '.join(names)}")


def short(oid: Optional[str], absent: str = "(none)") -> str:
    """A commit id as people read it (10 digits), or what stands for none."""
    return oid[:10] if oid else absent


def _sweep_spools(repo_path) -> None:
    """Remove what an import killed outright (SIGKILL) left: its spool of
    plain-text records under the repository (see attgit.format.backup.spool)."""
    from attgit.format.backup.spool import spool_parent, sweep, sweep_temporary

    try:
        sweep(spool_parent(repo_path))
        sweep_temporary()  # the fallback spools, and what earlier versions left there
    except OSError:
        pass  # a read-only repository: the next writer sweeps

"""openminutes command line: run the bot, re-render minutes, list meetings."""

from __future__ import annotations

import argparse
import asyncio
import csv
import json
import logging
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from openminutes import __version__
from openminutes.importer.run import Summary
from openminutes.meetings.model import Action
from openminutes.publish.publisher import DECISION_KINDS
from openminutes.runtime import amend, app, database, logs, rebuild
from openminutes.runtime.check import run_checks
from openminutes.runtime.config import Config, ConfigError, load
from openminutes.runtime.status import group_status, render_status
from openminutes.schedules.model import ScheduleError
from openminutes.storage import MeetingRecord
from openminutes.storage.errors import InUseError
from openminutes.storage.schema import safe_url, url_password
from openminutes.storage.search import Filters, kind_choices


def _iso(record: MeetingRecord) -> dict[str, object]:
    return {
        "id": record.id, "network": record.network, "channel": record.channel,
        "name": record.name, "title": record.title,
        "started_at": record.started_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "ended_at": record.ended_at.strftime("%Y-%m-%dT%H:%M:%SZ") if record.ended_at else None,
        "files": record.stem,
    }


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="openminutes", description=__doc__)
    parser.add_argument("--version", action="version", version=f"openminutes {__version__}")
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("-c", "--config", type=Path, default=None,
                        help="config file (default: ./config.toml when present)")
    common.add_argument("-v", "--verbose", action="store_true", help="log debug messages")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("run", parents=[common], help="run the bot (console chat without a config)")
    sub.add_parser("serve", parents=[common], help="serve the archive, its search and API")
    status = sub.add_parser("status", parents=[common],
                            help="the recorder group: processes, rooms, leases, buffers")
    status.add_argument("--json", action="store_true", help="machine-readable output")
    render = sub.add_parser("render", parents=[common], help="re-render minutes from storage")
    which = render.add_mutually_exclusive_group(required=True)
    which.add_argument("--all", action="store_true", help="every meeting")
    which.add_argument("ids", nargs="*", type=int, default=[], metavar="MEETING_ID")
    render.add_argument("--jobs", "-j", type=int, default=0, metavar="N",
                        help="processes rendering meetings side by side (default: one per "
                             "core); the output is the same for any N")
    render.add_argument("--quiet", action="store_true",
                        help="no progress line on a terminal")
    meetings = sub.add_parser("meetings", parents=[common], help="list meetings")
    meetings.add_argument("--json", action="store_true", help="machine-readable output")
    decisions = sub.add_parser("decisions", parents=[common],
                               help="every #agreed, #accepted, #rejected and vote result")
    decisions.add_argument("--channel", help="only this channel")
    decisions.add_argument("--meeting", help="only meetings of this name (series)")
    decisions.add_argument("--since", type=_day, help="from this date (YYYY-MM-DD, UTC)")
    decisions.add_argument("--until", type=_day, help="up to and including this date")
    form = decisions.add_mutually_exclusive_group()
    form.add_argument("--json", action="store_true", help="JSON output")
    form.add_argument("--csv", action="store_true", help="CSV output")
    actions = sub.add_parser("actions", parents=[common], help="action items across meetings")
    actions.add_argument("--person", help="only items this nick owns")
    actions.add_argument("--meeting", help="only meetings of this name (series)")
    actions.add_argument("--json", action="store_true", help="JSON output")
    find = sub.add_parser("search", parents=[common], help="full-text search of every meeting")
    find.add_argument("query", help='words, "a phrase", -excluded, a OR b')
    find.add_argument("--kind", help="an item kind (of any plugin), decision, or line")
    find.add_argument("--series", help="only meetings of this name")
    find.add_argument("--channel", help="only this channel")
    find.add_argument("--person", help="only what this nick said")
    find.add_argument("--since", type=_day, help="from this date (YYYY-MM-DD, UTC)")
    find.add_argument("--until", type=_day, help="up to and including this date")
    find.add_argument("--limit", type=int, default=20, help="hits to show (at most 100)")
    find.add_argument("--json", action="store_true", help="JSON output")
    imports = sub.add_parser("import", parents=[common],
                             help="import MeetBot / hcoop-meetbot / client logs (files or folders)")
    imports.add_argument("paths", nargs="+", type=Path, metavar="PATH")
    imports.add_argument("--network", default="irc", help="network name to store (default: irc)")
    imports.add_argument("--channel", help="channel, for logs whose path does not say")
    imports.add_argument("--date", type=_day, help="day the log starts, if its name has none")
    imports.add_argument("--no-render", action="store_true",
                         help="store only; write the minutes later with `render --all`")
    imports.add_argument("-q", "--quiet", action="store_true", help="no progress, no summary")
    sub.add_parser("check", parents=[common],
                   help="check the config, the database, the publish dir and every network")
    db = sub.add_parser("db", help="the database: schema version, migrations, copying")
    db_sub = db.add_subparsers(dest="db_command", required=True)
    db_sub.add_parser("current", parents=[common], help="the schema version and what is pending")
    db_sub.add_parser("upgrade", parents=[common], help="apply pending migrations")
    copy = db_sub.add_parser("copy", parents=[common],
                             help="copy the whole archive to another (empty) database")
    copy.add_argument("--to", required=True, metavar="URL",
                      help="the target, e.g. postgresql://user:pass@host/openminutes")
    copy.add_argument("-q", "--quiet", action="store_true", help="no progress line")
    _amend_parser(sub, common)
    return parser


def _amend_parser(sub: Any, common: argparse.ArgumentParser) -> None:
    amend = sub.add_parser("amend", help="correct an ended meeting's record; every change "
                           "is listed in its minutes and feeds")
    actions = amend.add_subparsers(dest="amend_command", required=True)
    who = argparse.ArgumentParser(add_help=False, parents=[common])
    who.add_argument("--by", help="who amends, as the record shows it (default: the OS user)")
    where = argparse.ArgumentParser(add_help=False)
    where.add_argument("meeting_id", type=int, metavar="MEETING_ID")
    where.add_argument("line", type=int, metavar="LINE", help="the line's number in the log")
    redact = actions.add_parser("redact", parents=[who, where],
                                help="remove a line's text everywhere, for good")
    redact.add_argument("--reason", required=True, help="shown in the log at that line")
    why = argparse.ArgumentParser(add_help=False)
    why.add_argument("--reason", default="", help="why, as the record shows it")
    retag = actions.add_parser("retag", parents=[who, where, why],
                               help="make the line an item of KIND (or change its item's kind)")
    retag.add_argument("kind", metavar="KIND", help="an item kind: agreed, action, info ...")
    retag.add_argument("--text", default="", help="the item's text (default: the line's)")
    actions.add_parser("untag", parents=[who, where, why], help="remove the item a line made")
    owners = actions.add_parser("owners", parents=[who, where, why],
                                help="set the owners of the line's action item")
    owners.add_argument("nicks", nargs="+", metavar="NICK")
    listing = actions.add_parser("list", parents=[common], help="print the audit trail")
    listing.add_argument("meeting_id", type=int, nargs="?", metavar="MEETING_ID")
    listing.add_argument("--json", action="store_true", help="JSON output")


def _amend(args: argparse.Namespace, config: Config) -> int:
    try:
        if args.amend_command == "list":
            records = asyncio.run(amend.trail(config, args.meeting_id))
            rows = [amend.as_dict(r) for r in records]
            if args.json:
                print(json.dumps(rows, indent=1, ensure_ascii=False))
                return 0
            for r in rows:
                print(f"{r['id']}\t{r['time']}\tmeeting {r['meeting_id']}\tline {r['line']}\t"
                      f"{r['action']}\t{r['by']}\t{r['change']}\t{r['reason']}")
            return 0
        new = amend.new_amendment(
            Action(args.amend_command), args.line, by=args.by, reason=args.reason,
            kind=getattr(args, "kind", ""), text=getattr(args, "text", ""),
            owners=tuple(getattr(args, "nicks", ())))
        result = asyncio.run(amend.amend(config, args.meeting_id, new))
    except amend.AmendError as exc:
        sys.exit(f"openminutes: amend: {exc}")
    print(f"amended meeting {args.meeting_id} (amendment {result.applied.amendment.id}): "
          f"{result.applied.change}")
    for change in result.changes:
        print(f"  {change}")
    print(f"published again: {result.minutes}")
    return 0


def _print_summary(summary: Summary) -> None:
    rate = summary.lines / summary.seconds if summary.seconds else 0.0
    print(f"imported {summary.meetings} meetings, {summary.lines:,} lines "
          f"({rate:,.0f} lines/s), {summary.decisions} decisions, {summary.actions} action "
          f"items from {summary.files} files; {summary.unchanged} unchanged, "
          f"{len(summary.skipped)} skipped, {len(summary.failed)} failed")
    for path in summary.unended:
        print(f"flagged: {path}: the log never ends its meeting; closed at its last line")
    for path, lineno, text in summary.warnings[:50]:
        print(f"warning: {path}:{lineno}: not a log line, left out: {text[:60]!r}")
    if len(summary.warnings) > 50:
        print(f"warning: ... and {len(summary.warnings) - 50} more unreadable lines")
    for path, reason in summary.skipped:
        print(f"skipped: {path}: {reason}")
    for path, reason in summary.failed:
        print(f"failed: {path}: {reason}", file=sys.stderr)


def _day(text: str) -> datetime:
    try:
        return datetime.fromisoformat(text).replace(tzinfo=UTC)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {text!r}") from None


def _print_items(rows: list[dict[str, Any]], as_json: bool, as_csv: bool = False) -> None:
    if as_json:
        print(json.dumps(rows, indent=1, ensure_ascii=False))
    elif as_csv:
        writer = csv.DictWriter(sys.stdout, fieldnames=list(rows[0]) if rows else ["time"])
        writer.writeheader()
        writer.writerows({**r, "owners": " ".join(r["owners"])} for r in rows)
    else:
        for r in rows:
            owners = f" [{' '.join(r['owners'])}]" if r["owners"] else ""
            print(f"{r['time']}  {r['channel']}  {r['meeting']}  {str(r['kind']).upper()}: "
                  f"{r['text']}{owners} ({r['nick']})  {r['url']}")


def _load(path: Path | None) -> Config:
    try:
        config = load(path)
        app.registry_of(config)  # a plugin that cannot be loaded stops the bot here, named
        app.load_schedule(config)  # a bad schedule file stops the bot here, named
    except ConfigError as exc:
        sys.exit(f"openminutes: config error: {exc}")
    except ScheduleError as exc:
        sys.exit(f"openminutes: schedule error: {exc}")
    return config


def _check(path: Path | None) -> int:
    logging.getLogger().setLevel(logging.CRITICAL)  # the check's lines say it all
    passed = asyncio.run(run_checks(path, lambda r: print(r.line(), flush=True)))
    print("all checks passed" if passed else "some checks failed")
    return 0 if passed else 1


def _db(args: argparse.Namespace, config: Config) -> int:
    if args.db_command == "current":
        status = asyncio.run(database.current(config))
        print(status.describe())
        return 1 if status.current is not None and status.pending else 0
    if args.db_command == "upgrade":
        print(asyncio.run(database.upgrade(config)).describe())
        return 0
    try:
        report = asyncio.run(database.copy(config, args.to, show_progress=not args.quiet))
    except database.CopyError as exc:
        sys.exit(f"openminutes: db copy: {exc}")
    counts = ", ".join(f"{n:,} {table}" for table, n in report.rows.items())
    print(f"copied to {safe_url(args.to)}{' (resumed)' if report.resumed else ''}: {counts}; "
          f"the lines of {report.meetings_verified:,} meetings verified")
    return 0


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if getattr(args, "verbose", False) else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    logging.getLogger("alembic").setLevel(logging.WARNING)
    logging.getLogger("nio").setLevel(logging.WARNING)  # a line per event otherwise
    if args.command == "check":
        return _check(args.config)
    config = _load(args.config)
    logs.configure("debug" if getattr(args, "verbose", False) else config.logging.level,
                   config.logging.format, [*config.secrets(), url_password(config.storage.url)])
    if args.command == "db":
        return _db(args, config)
    if args.command == "amend":
        return _amend(args, config)
    if args.command == "run":
        if config.console:
            logging.getLogger().setLevel(logging.WARNING)
        try:
            asyncio.run(app.run_bot(config))
        except InUseError as exc:
            sys.exit(f"openminutes: {safe_url(config.storage.url)} is already being recorded "
                     f"into by another `openminutes run` ({exc.holder}). SQLite keeps one "
                     "recorder; to run more than one, use PostgreSQL (README: \"Running "
                     "more than one recorder\").")
        return 0
    if args.command == "status":
        group = asyncio.run(group_status(config))
        print(json.dumps(group, indent=1) if args.json else render_status(group))
        return 0
    if args.command == "serve":
        asyncio.run(app.serve(config))
        return 0
    if args.command == "render":
        if args.all == bool(args.ids):
            sys.exit("openminutes: give --all or meeting ids")
        if args.jobs < 0:
            sys.exit("openminutes: --jobs must be 1 or more (0: one per core)")
        results = asyncio.run(rebuild.render(
            config, None if args.all else args.ids,
            jobs=args.jobs or rebuild.default_jobs(),
            progress=None if args.quiet else rebuild.terminal_progress))
        for result in results:
            print(f"{result.meeting_id or '-'}\t{result.text}")
        # A relative publish dir gives relative paths: success is said by the outcome.
        return 0 if all(result.ok for result in results) else 1
    if args.command == "search":
        kinds = kind_choices(app.registry_of(config).kind_names())
        if args.kind is not None and args.kind not in kinds:
            sys.exit(f"openminutes: --kind must be one of {', '.join(kinds)}")
        filters = Filters(args.kind, args.series, args.channel, args.person, args.since,
                          args.until + timedelta(days=1) if args.until else None,
                          known=kinds)
        page, hits = asyncio.run(app.search(config, args.query, filters, limit=args.limit))
        if args.json:
            print(json.dumps({"total": page.total, "capped": page.capped, "hits": hits},
                             indent=1, ensure_ascii=False))
        else:
            for hit in hits:
                print(f"{hit['time']}  {hit['channel']}  {hit['series']}  "
                      f"{str(hit['kind']).upper()} <{hit['nick']}> {hit['snippet']}  {hit['url']}")
            more = "+" if page.capped else ""
            print(f"{len(hits)} of {page.total}{more} hits", file=sys.stderr)
        return 0
    if args.command == "import":
        summary = asyncio.run(app.import_logs(
            config, args.paths, network=args.network,
            day=args.date.date() if args.date else None, channel=args.channel,
            render=not args.no_render, progress=not args.quiet))
        if not args.quiet:
            _print_summary(summary)
        else:
            for path, reason in summary.failed:
                print(f"failed: {path}: {reason}", file=sys.stderr)
        return 1 if summary.failed else 0
    if args.command == "decisions":
        until = args.until + timedelta(days=1) if args.until else None
        found = asyncio.run(app.list_items(
            config, DECISION_KINDS, channel=args.channel, name=args.meeting,
            since=args.since, until=until))
        _print_items(found, args.json, args.csv)
        return 0
    if args.command == "actions":
        found = asyncio.run(app.list_items(config, ("action",), name=args.meeting,
                                           owner=args.person))
        _print_items(found, args.json)
        return 0
    records = asyncio.run(app.list_meetings(config))
    if args.json:
        print(json.dumps([_iso(r) for r in records], indent=1))
    else:
        for r in records:
            state = r.ended_at.strftime("%Y-%m-%d %H:%M") if r.ended_at else "open"
            print(f"{r.id}\t{r.network}\t{r.channel}\t{r.name or '-'}\t"
                  f"{r.started_at:%Y-%m-%d %H:%M}\t{state}")
    return 0


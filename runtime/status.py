"""`openminutes status`: the recorder group on the database, as an operator watches it:
its processes, which room each records, lease ages and how far each standby's buffer
reaches."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from openminutes.runtime.config import Config
from openminutes.storage import Storage


async def group_status(config: Config) -> dict[str, Any]:
    """What `status` prints (or dumps as JSON)."""
    storage = await Storage.open(config.storage.url)
    try:
        if storage.group is None:
            return {"group": False, "processes": [], "rooms": []}
        processes, leases = await storage.group.state()
    finally:
        await storage.close()
    nicks = {p.holder: p.nicks for p in processes}
    return {
        "group": True,
        "processes": [{**asdict(p), "started_at": p.started_at.isoformat(timespec="seconds"),
                       "records": [f"{lease.room} on {lease.network}" for lease in leases
                                   if lease.holder == p.holder and lease.expires_in > 0]}
                      for p in processes],
        "rooms": [{**asdict(lease), "acquired_at": lease.acquired_at.isoformat(
                       timespec="seconds"),
                   "nick": nicks.get(lease.holder, {}).get(lease.network, "")}
                  for lease in leases],
    }


def render_status(status: dict[str, Any]) -> str:
    if not status["group"]:
        return ("storage is SQLite: one `run` process records every room (a second one "
                "refuses to start); recorder groups need PostgreSQL.")
    out = [f"processes ({len(status['processes'])}):"]
    for p in status["processes"]:
        nicks = " ".join(f"{n}={nick}" for n, nick in sorted(p["nicks"].items()))
        role = "recorder of " + ", ".join(p["records"]) if p["records"] else "standby"
        out.append(f"  {p['holder']}  {nicks}  pid {p['pid']} on {p['host']}  "
                   f"reported {p['seen_ago']:.1f} s ago  {role}")
        for room, (since, lines) in sorted(p["buffers"].items()):
            network, _, name = room.partition(" ")
            out.append(f"    hears {name} on {network} since {since} ({lines} lines kept)")
    out.append(f"rooms ({len(status['rooms'])}):")
    for r in status["rooms"]:
        lease = (f"lease expires in {r['expires_in']:.1f} s" if r["expires_in"] > 0
                 else f"lease lapsed {-r['expires_in']:.1f} s ago")
        out.append(f"  {r['room']} on {r['network']}  recorded by {r['holder']}"
                   f"{' (' + r['nick'] + ')' if r['nick'] else ''}  epoch {r['epoch']}  "
                   f"since {r['acquired_at']}  {lease}")
    return "\n".join(out)

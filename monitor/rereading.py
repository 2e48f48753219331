"""Re-extract and re-read stored pages with the current rules, without alerting anyone.

Open Terms Archive's idea: the raw page is the record, the reading is derived, so better rules
improve the whole history. Changes keep their ids; their stances follow the new readings.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from monitor.config import Target
from monitor.extract import extract
from monitor.stance import read_stance
from monitor.store import Store, digest
from monitor.topics import load_topic


@dataclass
class RereadReport:
    targets: int = 0
    snapshots: int = 0
    changed_readings: int = 0
    stances_changed: int = 0


def reread_history(store: Store, targets: Sequence[Target]) -> RereadReport:
    report = RereadReport()
    for target in targets:
        report.targets += 1
        topic = load_topic(target.topic)
        with store.transaction():
            for snap in store.snapshots(target.id):
                stored = store.page(snap.page_hash)
                if stored is None:
                    continue
                body, _ = stored
                extraction = extract(body.decode("utf-8", errors="replace"), target.select,
                                     target.ignore, topic)
                reading = read_stance(extraction.relevant, topic)
                report.snapshots += 1
                if (extraction.relevant_text, reading.stance, reading.evidence) != (
                        snap.relevant, snap.stance, snap.evidence):
                    report.changed_readings += 1
                    report.stances_changed += reading.stance != snap.stance
                    store.update_reading(snap.id, extraction.relevant_text,
                                         digest("".join(extraction.key_text.split())),
                                         reading.stance, reading.evidence, reading.rule)
            store.sync_change_stances(target.id)
            latest = store.latest_snapshot(target.id)
            if latest is not None:
                store.set_target_reading(target.id, latest.stance, latest.key_hash)
    return report

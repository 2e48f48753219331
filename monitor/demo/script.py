"""The demo's scenario as data: two fictional targets and five steps of page changes.

Each step names the sample file every target serves during that pass, tells the newcomer what
changed on the pages, and says which alerts Stancewatch must send for it. The walkthrough
checks the alerts against `expect`, so the demo doubles as a smoke test of the whole pipeline:
if the rules regress, the demo says so instead of quietly showing something else.
"""

from __future__ import annotations

from dataclasses import dataclass

from monitor.records import SECTION_CHANGED, STANCE_CHANGED


@dataclass(frozen=True)
class DemoTarget:
    """One watched page of a fictional company."""

    id: str
    company: str
    path: str  # where the demo site serves it
    topic: str
    about: str  # one line for the introduction


@dataclass(frozen=True)
class Expected:
    """An alert a step must produce: its event type, target and stances."""

    event_type: str
    target: str
    old_stance: str | None = None
    new_stance: str | None = None


@dataclass(frozen=True)
class Step:
    title: str
    story: str  # what changed on the pages, and what Stancewatch should make of it
    pages: dict[str, str]  # target id -> sample file served during this pass
    expect: tuple[Expected, ...] = ()


LANTERNLY = DemoTarget(
    id="lanternly-hk-requests", company="Lanternly", path="/lanternly/hong-kong-requests",
    topic="hong-kong-requests",
    about="a messaging app; its help-centre page on Hong Kong requests")
HARBOURBOX = DemoTarget(
    id="harbourbox-privacy", company="Harbourbox", path="/harbourbox/privacy",
    topic="government-requests",
    about="cloud storage; its privacy page has a section on government requests")
TARGETS = (LANTERNLY, HARBOURBOX)

STEPS = (
    Step(
        title="Baseline",
        story=("Lanternly says it responds to valid legal requests from Hong Kong authorities; "
               "Harbourbox sets out what it requires before it discloses data to a government. "
               "The first check of a target records what the page says now and sends nothing."),
        pages={LANTERNLY.id: "lanternly-1-baseline.html",
               HARBOURBOX.id: "harbourbox-1-baseline.html"},
    ),
    Step(
        title="Noise",
        story=("Both sites redeploy: new cookie-banner wording, a new 'Last updated' date, the "
               "navigation reordered, fresh script nonces and request ids. Harbourbox also "
               "raises its storage plans from 2 TB to 3 TB, a passage that says nothing about "
               "government requests. None of this is news: no alert. The plans edit is recorded "
               "quietly (see `history --all`)."),
        pages={LANTERNLY.id: "lanternly-2-noise.html",
               HARBOURBOX.id: "harbourbox-2-noise.html"},
    ),
    Step(
        title="A pause",
        story=("Lanternly now says it has paused the processing of data requests from Hong "
               "Kong authorities, pending a review of the new National Security Law. The stance "
               "read from the page moves from complying to paused: a stance alert, with the "
               "sentences it rests on."),
        pages={LANTERNLY.id: "lanternly-3-paused.html"},
        expect=(Expected(STANCE_CHANGED, LANTERNLY.id, "complying", "paused"),),
    ),
    Step(
        title="A wording edit",
        story=("Lanternly rewords the pause (adding 'formal human rights due diligence') and "
               "publishes new figures; its stance is still paused, so the alert is the quieter "
               "section_changed. Harbourbox now writes that a court order can delay notifying "
               "the user; its topic (government-requests) reads no stance, so that edit is a "
               "section_changed too."),
        pages={LANTERNLY.id: "lanternly-4-edit.html",
               HARBOURBOX.id: "harbourbox-4-edit.html"},
        expect=(Expected(SECTION_CHANGED, LANTERNLY.id, "paused", "paused"),
                Expected(SECTION_CHANGED, HARBOURBOX.id)),
    ),
    Step(
        title="A resumption",
        story=("Lanternly says it has resumed responding to valid legal requests from Hong Kong "
               "authorities: paused -> complying. The alert notes that the page is back to a "
               "stance it held before."),
        pages={LANTERNLY.id: "lanternly-5-resumed.html"},
        expect=(Expected(STANCE_CHANGED, LANTERNLY.id, "paused", "complying"),),
    ),
)

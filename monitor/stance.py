"""Relevant passages -> the stance a page takes (a Reading), by the topic's YAML rules; pure.

The wording lives in the topic file (`stances:` in topics/<name>.yaml); this module only knows
how to apply it, so a new phrasing is a YAML edit, not a code change.

How a page is read:

1. Passages are split into sentences (abbreviations such as "U.S.", "e.g.", "Inc." do not end
   one). Quotations of four words or more are blanked out before any cue is matched: words in
   quotation marks are someone's words, not the page's statement.
2. Scope. A sentence is *direct* (tier 2) when it names the place (`scope.place`: Hong Kong, HK,
   HKSAR, 香港) or refers back to it ("these requests", "the pause") inside a Hong Kong passage.
   It is *contextual* (tier 1) when it only sits in a passage that names the place, under a
   heading that does (for `heading_reach` passages), or in a passage that refers back to the
   Hong Kong passage before it. Other sentences are out of scope and never decide.
3. Attribution. A sentence in someone else's voice ("Other companies, such as X, said ...",
   "according to ...") does not count, nor does a sentence that carries it on ("They have
   since ..."), except for the part after an own-voice clause (", but we ...").
   Questions do not count either: a heading "Do you pause requests from Hong Kong?" states
   nothing.
4. Statements. Every rule whose cue matches an in-scope sentence makes a statement, unless the
   cue is negated in its clause ("have not resumed"), vetoed by what precedes it ("will resume
   once ..."), or the sentence matches one of the rule's `unless` patterns (conditions such as
   "overly broad requests").
5. Several statements: the one that states the *current* stance wins, compared in this order:
   - direct beats contextual (a sentence naming Hong Kong beats a general one near it);
   - present beats history: a sentence with a past marker (a year, "initially") and no present
     one ("have", "is", "remains", "will", "no longer") is history, e.g. "In July 2020 we
     paused ...", and only decides when no present statement does;
   - among present statements, the higher rule `priority`: a change or a definitive word
     (resumed, will not, no longer, only through MLAT) supersedes a state (paused, nothing to
     hand over), which supersedes ordinary wording (responds to requests, does not process);
     so "We have not resumed, and we will not resume" is refusing, and "We have resumed
     processing" beats an older "we paused";
   - then the later date mentioned (a 2023 statement supersedes a 2021 one), then the priority
     (for history), then the later position in the document.
6. No statement: `unknown` when a passage names the place together with a request word
   (`scope.about`), e.g. figures only ("Hong Kong: 43 requests, 0% data produced"); otherwise
   `not_mentioned`.

The evidence is the winning sentence plus the other sentences that read the same stance at the
same tier (at most three, in document order, the nearest kept); `rule` is the winning rule.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from monitor.records import STANCES, Reading
from monitor.topics import Topic

# Stances a rule may read; the other two are what is left when no rule decides.
RULE_STANCES = frozenset(STANCES) - {"unknown", "not_mentioned"}
UNKNOWN = "unknown"
NOT_MENTIONED = "not_mentioned"

# The evidence stays readable in an alert: the decisive sentence and at most two more.
MAX_EVIDENCE = 3

# Quotations this long are someone's statement; shorter ones are scare quotes ("on hold").
MIN_QUOTED_WORDS = 4

TIER_OUT, TIER_CONTEXT, TIER_DIRECT = 0, 1, 2

# Tokens whose full stop does not end a sentence (language, not topic vocabulary).
ABBREVIATIONS = frozenset(
    """u.s. u.k. u.n. e.g. i.e. inc. ltd. co. corp. llc. plc. no. nos. mr. mrs. ms. dr. st.
    vs. v. approx. dept. gov. govt. art. sec. para. fig. cf. al. jan. feb. mar. apr. jun.
    jul. aug. sep. sept. oct. nov. dec. ca. est. etc.""".split()
)
_INITIALISM = re.compile(r"(?:[A-Za-z]\.){2,}|[A-Z]\.")
_SENTENCE_END = re.compile(r"[.!?]+[\"')\]]*(?=\s|$)|[。！？]+")
_QUOTED = re.compile(r"\"[^\"]*\"|(?<!\w)'(?:[^']|(?<=\w)'(?=\w))*'(?!\w)")
# A clause ends at punctuation or a conjunction: negation does not reach across it.
_CLAUSE_BREAK = re.compile(r"[,;:()]|\b(?:and|but|while|whereas|although|though)\b")
# Escapes stay as written (\S is not \s); other letters are lowered with the text.
_PATTERN_LETTER = re.compile(r"\\.|[A-Z]")
_WORD = re.compile(r"\w+")
_MONTHS = {
    name: number
    for number, names in enumerate(
        (
            ("jan", "january"), ("feb", "february"), ("mar", "march"), ("apr", "april"),
            ("may",), ("jun", "june"), ("jul", "july"), ("aug", "august"),
            ("sep", "sept", "september"), ("oct", "october"), ("nov", "november"),
            ("dec", "december"),
        ),
        start=1,
    )
    for name in names
}
_DATE = re.compile(
    r"(?:\b(?P<month>[A-Za-z]{3,9})\.?\s+(?:\d{1,2}(?:st|nd|rd|th)?,?\s+)?)?"
    r"\b(?P<year>(?:19|20)\d{2})\b"
)
_DAY_MONTH_YEAR = re.compile(r"\b\d{1,2}(?:st|nd|rd|th)?\s+(?P<month>[A-Za-z]{3,9})\s*$")


class StanceRulesError(ValueError):
    """The `stances:` part of a topic file is malformed; the message names the key."""


@dataclass(frozen=True)
class Rule:
    """One named rule of the YAML: cues that read `stance`, and what cancels them."""

    name: str
    stance: str
    priority: int
    cues: re.Pattern[str]
    unless: re.Pattern[str] | None
    unless_before: re.Pattern[str] | None
    negatable: bool


@dataclass(frozen=True)
class Vocabulary:
    """A topic's `stances:` compiled once: scope, attribution, tense and the rules."""

    place: re.Pattern[str]
    about: re.Pattern[str]
    anaphora: re.Pattern[str] | None
    heading_words: int
    heading_reach: int
    negation: re.Pattern[str]
    attribution: re.Pattern[str] | None
    own_voice: re.Pattern[str] | None
    continuation: re.Pattern[str] | None
    past: re.Pattern[str] | None
    present: re.Pattern[str] | None
    rules: tuple[Rule, ...]
    unknown_rule: str
    not_mentioned_rule: str


@dataclass(frozen=True)
class Sentence:
    """A sentence of a passage: its exact text, the text cues are matched on, and its scope."""

    text: str  # exact substring of the passage: the evidence
    masked: str  # lower-cased, quotations blanked out; same length as `text`
    order: int  # position in the document
    tier: int


@dataclass(frozen=True)
class Statement:
    """A rule that matched a sentence: one candidate for the page's stance."""

    rule: Rule
    sentence: Sentence
    current: bool  # False for history ("In July 2020 we paused ...")
    date: tuple[int, int]  # latest (year, month) the sentence mentions, (0, 0) if none
    cue_at: int

    def rank(self) -> tuple[int, ...]:
        """Sort key of the multi-statement policy (module docstring, point 5)."""
        current_priority = self.rule.priority if self.current else 0
        return (
            self.sentence.tier,
            int(self.current),
            current_priority,
            *self.date,
            self.rule.priority,
            self.sentence.order,
            self.cue_at,
        )


# --- the entry point ---------------------------------------------------------------------------


def read_stance(passages: Sequence[str], topic: Topic) -> Reading:
    """Read the stance the passages state, by the topic's rules, with the sentences it rests on."""
    if not topic.has_stances:
        return Reading(None)
    vocab = vocabulary(topic)
    sentences = scoped_sentences(passages, vocab)
    statements = [st for s in own_voice(sentences, vocab) for st in statements_of(s, vocab)]
    if statements:
        return _decide(statements)
    mention = _mentioning_sentence(passages, vocab)
    if mention is not None:
        return Reading(UNKNOWN, (mention,), vocab.unknown_rule)
    return Reading(NOT_MENTIONED, (), vocab.not_mentioned_rule)


def _decide(statements: list[Statement]) -> Reading:
    """The strongest statement decides; its evidence is every sentence that agrees with it."""
    best = max(statements, key=Statement.rank)
    agreeing = [
        st
        for st in statements
        if st.rule.stance == best.rule.stance and st.sentence.tier == best.sentence.tier
    ]
    sentences = {st.sentence.order: st.sentence.text for st in agreeing}
    orders = sorted(sentences)
    if len(orders) > MAX_EVIDENCE:
        # Keep the decisive sentence, then the nearest others.
        others = sorted(
            (o for o in orders if o != best.sentence.order),
            key=lambda o: abs(o - best.sentence.order),
        )
        orders = sorted([best.sentence.order, *others[: MAX_EVIDENCE - 1]])
    return Reading(best.rule.stance, tuple(sentences[o] for o in orders), best.rule.name)


# --- sentences and scope -----------------------------------------------------------------------


def split_sentences(text: str) -> list[tuple[int, int]]:
    """Spans of the sentences of `text`; a full stop after an abbreviation ends nothing."""
    spans: list[tuple[int, int]] = []
    start = 0
    for match in _SENTENCE_END.finditer(text):
        end = match.end()
        if not _ends_sentence(text, start, match):
            continue
        spans.append(_strip_span(text, start, end))
        start = end
    if text[start:].strip():
        spans.append(_strip_span(text, start, len(text)))
    return [span for span in spans if span[1] > span[0]]


def _ends_sentence(text: str, start: int, match: re.Match[str]) -> bool:
    """Whether this punctuation ends a sentence (not "U.S. Department", "approx. three")."""
    if match.group().startswith(("。", "！", "？")):
        return True
    following = text[match.end() :].lstrip()
    if following[:1].islower():
        return False
    if match.group() != "." and not match.group().startswith("."):
        return True
    token_start = text.rfind(" ", start, match.start()) + 1
    token = text[token_start : match.start() + 1].lstrip("\"'([")
    return token.lower() not in ABBREVIATIONS and not _INITIALISM.fullmatch(token)


def _strip_span(text: str, start: int, end: int) -> tuple[int, int]:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end


def mask_quotations(text: str) -> str:
    """`text` with quotations of MIN_QUOTED_WORDS words or more blanked (same length)."""

    def blank(match: re.Match[str]) -> str:
        quoted = match.group()
        if len(_WORD.findall(quoted)) < MIN_QUOTED_WORDS:
            return quoted
        return " " * len(quoted)

    return _QUOTED.sub(blank, text)


def is_heading(passage: str, max_words: int) -> bool:
    """A short passage without a full stop: a heading (an FAQ question counts)."""
    words = len(passage.split())
    stripped = passage.rstrip("\"') ")
    if stripped.endswith("?"):
        return words <= max_words * 2
    return words <= max_words and not stripped.endswith((".", "!", ";", "。", "！"))


def scoped_sentences(passages: Sequence[str], vocab: Vocabulary) -> list[Sentence]:
    """Every sentence of the passages with its scope tier (module docstring, point 2)."""
    sentences: list[Sentence] = []
    reach = 0
    previous_scoped = False
    for passage in passages:
        lowered = lower(passage)
        named = bool(vocab.place.search(lowered))
        if is_heading(passage, vocab.heading_words):
            reach = vocab.heading_reach if named else 0
            scoped = named
        else:
            scoped = named or reach > 0 or (previous_scoped and _refers_back(lowered, vocab))
            reach = max(reach - 1, 0)
        masked = mask_quotations(lowered)
        for start, end in split_sentences(passage):
            tier = _tier(lowered[start:end], named, scoped, vocab)
            sentences.append(Sentence(passage[start:end], masked[start:end], len(sentences), tier))
        previous_scoped = scoped
    return sentences


def _refers_back(lowered: str, vocab: Vocabulary) -> bool:
    return vocab.anaphora is not None and bool(vocab.anaphora.search(lowered))


def _tier(lowered: str, named: bool, scoped: bool, vocab: Vocabulary) -> int:
    """Direct when the sentence names the place or refers back to it; else its passage's scope."""
    if named and vocab.place.search(lowered):
        return TIER_DIRECT
    if not scoped:
        return TIER_OUT
    return TIER_DIRECT if _refers_back(lowered, vocab) else TIER_CONTEXT


def lower(text: str) -> str:
    """`text` in lower case, same length (offsets must stay valid for the evidence)."""
    lowered = text.lower()
    if len(lowered) == len(text):
        return lowered
    return "".join(c.lower() if len(c.lower()) == 1 else c for c in text)


def own_voice(sentences: Iterable[Sentence], vocab: Vocabulary) -> Iterable[Sentence]:
    """The in-scope sentences in the page's own voice, attributed parts blanked out."""
    attributed_before = False
    for sentence in sentences:
        if sentence.tier == TIER_OUT:
            attributed_before = False
            continue
        masked = sentence.masked
        attributed = bool(vocab.attribution and vocab.attribution.search(masked)) or (
            attributed_before
            and vocab.continuation is not None
            and bool(vocab.continuation.search(masked.lstrip()))
        )
        attributed_before = attributed
        if attributed:
            masked = _after_own_voice(masked, vocab)
            if not masked.strip():
                continue
        if masked.rstrip().rstrip("\"')").endswith("?"):
            continue  # a question states nothing
        yield Sentence(sentence.text, masked, sentence.order, sentence.tier)


def _after_own_voice(masked: str, vocab: Vocabulary) -> str:
    """Blank everything before the last own-voice clause (", but we ..."), or all of it."""
    last = None
    if vocab.own_voice is not None:
        for last in vocab.own_voice.finditer(masked):
            pass
    cut = last.start() if last is not None else len(masked)
    return " " * cut + masked[cut:]


# --- statements --------------------------------------------------------------------------------


def statements_of(sentence: Sentence, vocab: Vocabulary) -> Iterable[Statement]:
    """One statement per rule whose cue holds in the sentence (point 4)."""
    text = sentence.masked
    current: bool | None = None
    for rule in vocab.rules:
        cue_at = _cue(rule, text, vocab)
        if cue_at is None:
            continue
        if current is None:
            current = _is_current(text, vocab)
        yield Statement(rule, sentence, current, _latest_date(text), cue_at)


def _cue(rule: Rule, text: str, vocab: Vocabulary) -> int | None:
    """Start of the rule's first cue that is neither negated nor vetoed, or None."""
    for match in rule.cues.finditer(text):
        clause = _clause_before(text, match.start())
        if rule.negatable and vocab.negation.search(clause):
            continue
        if rule.unless_before is not None and rule.unless_before.search(clause):
            continue
        if rule.unless is not None and rule.unless.search(text):
            return None
        return match.start()
    return None


def _clause_before(text: str, at: int) -> str:
    """The words of the cue's own clause that precede it."""
    before = text[:at]
    cut = 0
    for cut_match in _CLAUSE_BREAK.finditer(before):
        cut = cut_match.end()
    return before[cut:]


def _is_current(text: str, vocab: Vocabulary) -> bool:
    """False for history: a past marker (a year, "initially") and no present-tense word."""
    if vocab.past is None or not vocab.past.search(text):
        return True
    return vocab.present is None or bool(vocab.present.search(text))


def _latest_date(text: str) -> tuple[int, int]:
    """The latest (year, month) mentioned, so a later-dated statement supersedes."""
    latest = (0, 0)
    for match in _DATE.finditer(text):
        month_name = match.group("month")
        if month_name is None:
            before = _DAY_MONTH_YEAR.search(text[: match.start()])
            month_name = before.group("month") if before else None
        month = _MONTHS.get((month_name or "").lower().rstrip("."), 0)
        latest = max(latest, (int(match.group("year")), month))
    return latest


def _mentioning_sentence(passages: Sequence[str], vocab: Vocabulary) -> str | None:
    """The first sentence naming the place where requests are mentioned (for `unknown`).

    Requests count when a request word (`scope.about`) is in the same passage, or, for a
    heading such as "Hong Kong SAR", in the passages under it (figures tables).
    """
    lowered = [lower(passage) for passage in passages]
    for index, (passage, text) in enumerate(zip(passages, lowered)):
        if not vocab.place.search(text):
            continue
        reach = vocab.heading_reach if is_heading(passage, vocab.heading_words) else 0
        if any(vocab.about.search(near) for near in lowered[index : index + 1 + reach]):
            spans = split_sentences(passage)
            naming = [(a, b) for a, b in spans if vocab.place.search(text[a:b])]
            start, end = (naming or spans)[0]
            return passage[start:end]
    return None


# --- compiling the YAML ------------------------------------------------------------------------

_COMPILED: dict[str, tuple[Mapping[str, Any], Vocabulary]] = {}

_TOP_KEYS = {"scope", "negation", "attribution", "tense", "rules", "unknown", "not_mentioned"}
_SCOPE_KEYS = {"place", "about", "anaphora", "heading_words", "heading_reach"}
_ATTRIBUTION_KEYS = {"markers", "own_voice", "continuation"}
_TENSE_KEYS = {"past", "present"}
_RULE_KEYS = {"name", "stance", "priority", "cues", "unless", "unless_before", "negatable"}


def vocabulary(topic: Topic) -> Vocabulary:
    """The topic's rules compiled, once per topic (recompiled only if its dict is replaced)."""
    cached = _COMPILED.get(topic.name)
    if cached is not None and cached[0] is topic.stances:
        return cached[1]
    vocab = compile_stances(topic.stances, topic.name)
    _COMPILED[topic.name] = (topic.stances, vocab)
    return vocab


def compile_stances(raw: Mapping[str, Any], where: str = "topic") -> Vocabulary:
    """Check and compile a `stances:` mapping; errors name the offending key."""
    _check_keys(raw, _TOP_KEYS, f"{where}: stances")
    scope = raw.get("scope") or {}
    _check_keys(scope, _SCOPE_KEYS, f"{where}: stances.scope")
    attribution = raw.get("attribution") or {}
    _check_keys(attribution, _ATTRIBUTION_KEYS, f"{where}: stances.attribution")
    tense = raw.get("tense") or {}
    _check_keys(tense, _TENSE_KEYS, f"{where}: stances.tense")
    rules = tuple(_compile_rule(r, i, where) for i, r in enumerate(raw.get("rules") or ()))
    if not rules:
        raise StanceRulesError(f"{where}: stances.rules is empty")
    names = [rule.name for rule in rules]
    if len(set(names)) != len(names):
        raise StanceRulesError(f"{where}: stances.rules has duplicate names")
    place = _union(scope.get("place"), f"{where}: stances.scope.place")
    if place is None:
        raise StanceRulesError(f"{where}: stances.scope.place is required")
    return Vocabulary(
        place=place,
        about=_union(scope.get("about"), f"{where}: stances.scope.about") or place,
        anaphora=_union(scope.get("anaphora"), f"{where}: stances.scope.anaphora"),
        heading_words=int(scope.get("heading_words", 14)),
        heading_reach=int(scope.get("heading_reach", 3)),
        negation=_union(raw.get("negation"), f"{where}: stances.negation") or re.compile(r"$^"),
        attribution=_union(attribution.get("markers"), f"{where}: stances.attribution.markers"),
        own_voice=_union(attribution.get("own_voice"), f"{where}: stances.attribution.own_voice"),
        continuation=_union(
            attribution.get("continuation"), f"{where}: stances.attribution.continuation"
        ),
        past=_union(tense.get("past"), f"{where}: stances.tense.past"),
        present=_union(tense.get("present"), f"{where}: stances.tense.present"),
        rules=rules,
        unknown_rule=str(raw.get("unknown") or UNKNOWN),
        not_mentioned_rule=str(raw.get("not_mentioned") or NOT_MENTIONED),
    )


def _compile_rule(raw: Any, index: int, where: str) -> Rule:
    label = f"{where}: stances.rules[{index}]"
    if not isinstance(raw, Mapping):
        raise StanceRulesError(f"{label} must be a mapping")
    name = raw.get("name")
    if not name:
        raise StanceRulesError(f"{label} has no name")
    label = f"{where}: stances rule {name!r}"
    _check_keys(raw, _RULE_KEYS, label)
    stance = raw.get("stance")
    if stance not in RULE_STANCES:
        raise StanceRulesError(f"{label}: stance {stance!r} is not one of {sorted(RULE_STANCES)}")
    cues = _union(raw.get("cues"), f"{label}: cues")
    if cues is None:
        raise StanceRulesError(f"{label} has no cues")
    return Rule(
        name=str(name),
        stance=stance,
        priority=int(raw.get("priority", 1)),
        cues=cues,
        unless=_union(raw.get("unless"), f"{label}: unless"),
        unless_before=_union(raw.get("unless_before"), f"{label}: unless_before"),
        negatable=bool(raw.get("negatable", True)),
    )


def _check_keys(raw: Any, allowed: set[str], label: str) -> None:
    if not isinstance(raw, Mapping):
        raise StanceRulesError(f"{label} must be a mapping")
    unknown = sorted(set(raw) - allowed)
    if unknown:
        raise StanceRulesError(f"{label}: unknown key(s) {', '.join(map(str, unknown))}")


def _union(patterns: str | Sequence[str] | None, label: str) -> re.Pattern[str] | None:
    """One regex matching any of the patterns, on lower-cased text (None when there are none).

    Lower-casing the text once and the patterns' letters here is what IGNORECASE would do, at
    half the cost: reading time is dominated by these searches.
    """
    if patterns is None:
        return None
    if isinstance(patterns, str):
        patterns = [patterns]
    if not patterns:
        return None
    try:
        lowered = [_PATTERN_LETTER.sub(_lower_letter, str(p)) for p in patterns]
        for pattern in lowered:
            re.compile(pattern)
        return re.compile("|".join(f"(?:{p})" for p in lowered))
    except re.error as error:
        raise StanceRulesError(f"{label}: bad pattern: {error}") from error


def _lower_letter(match: re.Match[str]) -> str:
    found = match.group()
    return found if found.startswith("\\") else found.lower()

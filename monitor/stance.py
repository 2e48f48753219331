"""Relevant passages -> the stance a page takes (a Reading), by the topic's YAML rules; pure.

The wording lives in the topic file (`stances:` in topics/<name>.yaml); this module only knows
how to apply it, so a new phrasing is a YAML edit, not a code change.

How a page is read:

1. Passages are split into sentences (abbreviations such as "U.S.", "e.g.", "Inc." do not end
   one) and matched lower-cased. Quotations of four words or more attributed to someone else
   (an `attribution` marker next to them: 'X said: "We have paused ..."') are blanked out
   before any cue is matched.
2. Scope. A sentence is *direct* when it names the place (`scope.place`: Hong Kong, HK, HKSAR,
   香港) or refers back to it ("these requests", "the pause") inside a Hong Kong passage. It is
   *passage* scope when it only sits in a passage that names the place or refers back to the
   Hong Kong passage before it, and *heading* scope when it only sits under a heading naming
   the place (for `heading_reach` passages). Under a heading, only rules of priority
   `heading_min_priority` or more count: ordinary wording there ("we respond to government
   requests in accordance with applicable law") is about every government, not Hong Kong.
   Other sentences are out of scope and never decide.
3. Attribution. A sentence in someone else's voice ("Other companies, such as X, said ...",
   "according to ...", "Unlike X, which paused ...") does not count, nor does a sentence that
   carries it on ("They have since ..."), except for the part after an own-voice clause
   (", but we ...", ", Acme continues ...").
   Questions do not count either: a heading "Do you pause requests from Hong Kong?" states
   nothing.
4. Statements. Every rule whose cue matches an in-scope sentence makes a statement, unless the
   cue is negated in its clause ("have not resumed"), vetoed by what precedes it ("will resume
   once ..."), or the sentence matches one of the rule's `unless` patterns (conditions such as
   "overly broad requests").
5. Several statements: the one that states the *current* stance wins, compared in this order:
   - direct beats passage beats heading scope (a sentence naming Hong Kong beats a general one
     near it);
   - present beats history: a sentence with a past marker (a year, "initially") and no present
     one ("have", "is", "remains", "will", "no longer") is history, e.g. "In July 2020 we
     paused ...", and only decides when no present statement does;
   - among present statements, the higher rule `priority`: a change or a definitive word
     (resumed, will not, no longer, only through MLAT) supersedes a state (paused, nothing to
     hand over), which supersedes ordinary wording (responds to requests, does not process);
     so "We have not resumed, and we will not resume" is refusing, and "We have resumed
     processing" beats an older "we paused";
   - then the later date the statement is about: the latest date in the cue's clause, else
     the nearest in its sentence ("resumed in 2021 but paused again in 2023" is paused); then
     the priority (for history); then the later position in the document.
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
from typing import Any, NamedTuple

from monitor.prefixes import KEY_LENGTH, SHORT_KEY_LENGTH, Screened, cue_prefixes, trie
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
# How far around a quotation to look for who said it ('..., a spokesperson said').
QUOTE_CONTEXT = 80

# How closely a sentence is tied to Hong Kong (module docstring, point 2); higher wins.
TIER_HEADING, TIER_PASSAGE, TIER_DIRECT = 1, 2, 3

# Tokens whose full stop does not end a sentence (language, not topic vocabulary).
ABBREVIATIONS = frozenset(
    {
        "u.s.", "u.k.", "u.n.", "e.g.", "i.e.", "inc.", "ltd.", "co.", "corp.", "llc.", "plc.",
        "no.", "nos.", "mr.", "mrs.", "ms.", "dr.", "st.", "vs.", "v.", "approx.", "dept.",
        "gov.", "govt.", "art.", "sec.", "para.", "fig.", "cf.", "al.", "jan.", "feb.", "mar.",
        "apr.", "jun.", "jul.", "aug.", "sep.", "sept.", "oct.", "nov.", "dec.", "ca.", "est.",
        "etc.",
    }
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
_YEAR = re.compile(r"(?<!\d)(?:19|20)\d\d(?!\d)")
# "July 6, 2020", "July 2020", "6 July 2020": the month name just before a year.
_MONTH_BEFORE = re.compile(
    r"\b([a-z]{3,9})\.?\s+(?:\d{1,2}(?:st|nd|rd|th)?,?\s+)?$"  # July 6, 2020 / July 2020
    r"|\b\d{1,2}(?:st|nd|rd|th)?\s+([a-z]{3,9})\s+$",  # 6 July 2020
    re.IGNORECASE,
)


class StanceRulesError(ValueError):
    """The `stances:` part of a topic file is malformed; the message names the key."""


@dataclass(frozen=True)
class Rule:
    """One named rule of the YAML: cues that read `stance`, and what cancels them."""

    name: str
    stance: str
    priority: int
    indexed: tuple[tuple[frozenset[str], re.Pattern[str]], ...]  # (literal prefixes, cue)
    scanned: re.Pattern[str] | None  # the cues the word index cannot hold, searched whole
    unless: re.Pattern[str] | None
    unless_before: re.Pattern[str] | None
    negatable: bool


@dataclass(frozen=True)
class Vocabulary:
    """A topic's `stances:` compiled once: scope, attribution, tense and the rules."""

    # Searched in every passage: screened by their needles first (prefixes.Screened).
    place: Screened
    about: Screened
    anaphora: Screened | None
    heading_words: int
    heading_reach: int
    heading_min_priority: int
    negation: re.Pattern[str]
    attribution: re.Pattern[str] | None
    own_voice: re.Pattern[str] | None
    continuation: re.Pattern[str] | None
    past: re.Pattern[str] | None
    present: re.Pattern[str] | None
    rules: tuple[Rule, ...]
    cue_index: Mapping[str, tuple[tuple[int, re.Pattern[str]], ...]]  # key -> (rule no., cue)
    cue_starts: re.Pattern[str]  # finds the word starts that begin with a key of cue_index
    unknown_rule: str
    not_mentioned_rule: str


class Sentence(NamedTuple):
    """An in-scope sentence: its exact text, the text cues are matched on, and its scope.

    (Named tuples, not dataclasses: they are made per sentence on every reading, and cheaply.)
    """

    text: str  # exact substring of the passage: the evidence
    masked: str  # lower-cased, quotations blanked out; same length as `text`
    order: tuple[int, int]  # (passage, sentence): position in the document
    tier: int


class Statement(NamedTuple):
    """A rule that matched a sentence: one candidate for the page's stance."""

    rule: Rule
    sentence: Sentence
    current: bool  # False for history ("In July 2020 we paused ...")
    date: tuple[int, int]  # (year, month) the cue is about (_cue_date), (0, 0) if none
    cue_at: int

    def rank(self) -> tuple[Any, ...]:
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
        # Keep the decisive sentence and its nearest neighbours.
        at = orders.index(best.sentence.order)
        nearest = sorted(range(len(orders)), key=lambda i: abs(i - at))[:MAX_EVIDENCE]
        orders = [orders[i] for i in sorted(nearest)]
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


def mask_quotations(text: str, attribution: re.Pattern[str] | None) -> str:
    """`text` with the quotations attributed to someone else blanked out (same length).

    A quotation counts as someone else's when an attribution marker ("said", "according to")
    is within QUOTE_CONTEXT characters around it; short ones ("on hold") are scare quotes.
    """
    if attribution is None or ('"' not in text and "'" not in text):
        return text

    def blank(match: re.Match[str]) -> str:
        quoted = match.group()
        if len(_WORD.findall(quoted)) < MIN_QUOTED_WORDS:
            return quoted
        before = text[max(0, match.start() - QUOTE_CONTEXT) : match.start()]
        after = text[match.end() : match.end() + QUOTE_CONTEXT]
        if attribution.search(before) or attribution.search(after):
            return " " * len(quoted)
        return quoted

    return _QUOTED.sub(blank, text)


def is_heading(passage: str, max_words: int) -> bool:
    """A short passage without a full stop: a heading (an FAQ question counts)."""
    # Counted up to just past the longest heading: a paragraph is not split word by word.
    words = len(passage.split(None, max_words * 2 + 1))
    stripped = passage.rstrip("\"') ")
    if stripped.endswith("?"):
        return words <= max_words * 2
    return words <= max_words and not stripped.endswith((".", "!", ";", "。", "！"))


def scoped_sentences(passages: Sequence[str], vocab: Vocabulary) -> list[Sentence]:
    """The sentences in scope, with their tier (module docstring, point 2), in document order.

    Passages out of scope are not even split: on a long page most of them are.
    """
    sentences: list[Sentence] = []
    reach = 0
    previous_scoped = False
    for number, passage in enumerate(passages):
        lowered = lower(passage)
        named = bool(vocab.place.search(lowered))
        if is_heading(passage, vocab.heading_words):
            reach = vocab.heading_reach if named else 0
            scope = TIER_PASSAGE if named else None
        else:
            if named or (previous_scoped and _refers_back(lowered, vocab)):
                scope = TIER_PASSAGE
            else:
                scope = TIER_HEADING if reach > 0 else None
            reach = max(reach - 1, 0)
        previous_scoped = scope is not None
        if scope is None:
            continue
        masked = mask_quotations(lowered, vocab.attribution)
        for index, (start, end) in enumerate(split_sentences(passage)):
            tier = _tier(lowered[start:end], named, scope, vocab)
            sentences.append(Sentence(passage[start:end], masked[start:end], (number, index), tier))
    return sentences


def _refers_back(lowered: str, vocab: Vocabulary) -> bool:
    return vocab.anaphora is not None and bool(vocab.anaphora.search(lowered))


def _tier(lowered: str, named: bool, scope: int, vocab: Vocabulary) -> int:
    """Direct when an in-scope sentence names the place or refers back to it, else its scope."""
    if named and vocab.place.search(lowered):
        return TIER_DIRECT
    return TIER_DIRECT if _refers_back(lowered, vocab) else scope


def lower(text: str) -> str:
    """`text` in lower case, same length (offsets must stay valid for the evidence)."""
    lowered = text.lower()
    if len(lowered) == len(text):
        return lowered
    return "".join(c.lower() if len(c.lower()) == 1 else c for c in text)


def own_voice(sentences: Iterable[Sentence], vocab: Vocabulary) -> Iterable[Sentence]:
    """The in-scope sentences in the page's own voice, attributed parts blanked out."""
    attributed_order = None  # the sentence that was in someone else's voice, if any
    for sentence in sentences:
        masked = sentence.masked
        passage, index = sentence.order
        attributed = bool(vocab.attribution and vocab.attribution.search(masked)) or (
            attributed_order == (passage, index - 1)
            and vocab.continuation is not None
            and bool(vocab.continuation.search(masked.lstrip()))
        )
        attributed_order = sentence.order if attributed else None
        if attributed:
            masked = _after_own_voice(masked, vocab)
            if not masked.strip():
                continue
        if masked.rstrip().rstrip("\"')").endswith("?"):
            continue  # a question states nothing
        yield sentence._replace(masked=masked)


def _after_own_voice(masked: str, vocab: Vocabulary) -> str:
    """Blank everything before the last own-voice clause (", but we ..."), or all of it."""
    starts = [m.start() for m in vocab.own_voice.finditer(masked)] if vocab.own_voice else []
    cut = starts[-1] if starts else len(masked)
    return " " * cut + masked[cut:]


# --- statements --------------------------------------------------------------------------------


def statements_of(sentence: Sentence, vocab: Vocabulary) -> Iterable[Statement]:
    """One statement per rule whose cue holds in the sentence (point 4), at its first cue."""
    text = sentence.masked
    found = _indexed_cues(text, vocab)
    for number, rule in enumerate(vocab.rules):
        if rule.scanned is None:
            continue
        for match in rule.scanned.finditer(text):
            if match.start() >= found.get(number, len(text)):
                break
            if cue_holds(rule, text, match.start(), vocab):
                found[number] = match.start()
                break
    if sentence.tier == TIER_HEADING:
        minimum = vocab.heading_min_priority
        found = {n: at for n, at in found.items() if vocab.rules[n].priority >= minimum}
    if not found:
        return
    current = _is_current(text, vocab)
    dates = _dates(text)
    for number, cue_at in sorted(found.items()):
        date = _cue_date(text, cue_at, dates)
        yield Statement(vocab.rules[number], sentence, current, date, cue_at)


def _indexed_cues(text: str, vocab: Vocabulary) -> dict[int, int]:
    """Rule number -> start of its first cue that holds, trying cues only at word starts.

    A cue such as `\\bpaus(e|ed)\\b` can only match where a word starts with "pau"; looking up
    each word's first letters is far cheaper than letting every cue regex scan every position.
    """
    found: dict[int, int] = {}
    lookup = vocab.cue_index.get  # this loop is the hot path of a reading
    for word in vocab.cue_starts.finditer(text):
        at = word.start()
        candidates = lookup(text[at : at + KEY_LENGTH], ())
        short = lookup(text[at : at + SHORT_KEY_LENGTH])
        for number, cue in candidates + short if short else candidates:
            if number in found or not cue.match(text, at):
                continue
            if cue_holds(vocab.rules[number], text, at, vocab):
                found[number] = at
    return found


def cue_holds(rule: Rule, text: str, at: int, vocab: Vocabulary) -> bool:
    """Whether the cue at `at` counts: not negated or vetoed in its clause, no `unless`."""
    clause = _clause_before(text, at)
    if rule.negatable and vocab.negation.search(clause):
        return False
    if rule.unless_before is not None and rule.unless_before.search(clause):
        return False
    return rule.unless is None or not rule.unless.search(text)


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


def _dates(text: str) -> list[tuple[int, tuple[int, int]]]:
    """(position, (year, month)) of every date the sentence mentions (month 0 if none)."""
    dates = []
    for year in _YEAR.finditer(text):
        before = _MONTH_BEFORE.search(text, max(0, year.start() - 20), year.start())
        name = (before.group(1) or before.group(2)) if before else ""
        dates.append((year.start(), (int(year.group()), _MONTHS.get(name.lower(), 0))))
    return dates


def _cue_date(text: str, at: int, dates: list[tuple[int, tuple[int, int]]]) -> tuple[int, int]:
    """The date a cue is about: the latest in its own clause, else the nearest in the sentence.

    So "we resumed in 2021 but paused them again in 2022" dates the pause 2022, the
    resumption 2021, and the later event wins.
    """
    if not dates:
        return (0, 0)
    start = len(_clause_before(text, at))
    clause_start = at - start
    following = _CLAUSE_BREAK.search(text, at)
    clause_end = following.start() if following else len(text)
    in_clause = [date for position, date in dates if clause_start <= position < clause_end]
    if in_clause:
        return max(in_clause)
    return min(dates, key=lambda item: abs(item[0] - at))[1]


def _mentioning_sentence(passages: Sequence[str], vocab: Vocabulary) -> str | None:
    """The first sentence naming the place where requests are mentioned (for `unknown`).

    Requests count when a request word (`scope.about`) is in the same passage, or, for a
    heading such as "Hong Kong SAR", in the passages under it (figures tables).
    """
    lowered = [lower(passage) for passage in passages]
    for index, (passage, text) in enumerate(zip(passages, lowered, strict=True)):
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
_SCOPE_KEYS = {
    "place", "about", "anaphora", "heading_words", "heading_reach", "heading_min_priority"
}
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
    about = _union(scope.get("about"), f"{where}: stances.scope.about") or place
    anaphora = _union(scope.get("anaphora"), f"{where}: stances.scope.anaphora")
    return Vocabulary(
        place=Screened(place),
        about=Screened(about),
        anaphora=Screened(anaphora) if anaphora is not None else None,
        heading_words=int(scope.get("heading_words", 14)),
        heading_reach=int(scope.get("heading_reach", 3)),
        heading_min_priority=int(scope.get("heading_min_priority", 1)),
        negation=_union(raw.get("negation"), f"{where}: stances.negation") or re.compile(r"$^"),
        attribution=_union(attribution.get("markers"), f"{where}: stances.attribution.markers"),
        own_voice=_union(attribution.get("own_voice"), f"{where}: stances.attribution.own_voice"),
        continuation=_union(
            attribution.get("continuation"), f"{where}: stances.attribution.continuation"
        ),
        past=_union(tense.get("past"), f"{where}: stances.tense.past"),
        present=_union(tense.get("present"), f"{where}: stances.tense.present"),
        rules=rules,
        cue_index=_cue_index(rules),
        cue_starts=_cue_starts(rules),
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
    cues = _patterns(raw.get("cues"), f"{label}: cues")
    if not cues:
        raise StanceRulesError(f"{label} has no cues")
    indexed, scanned = [], []
    for cue in cues:
        prefixes = cue_prefixes(cue.pattern)
        if prefixes:
            indexed.append((prefixes, cue))
        else:
            scanned.append(cue.pattern)
    return Rule(
        name=str(name),
        stance=stance,
        priority=int(raw.get("priority", 1)),
        indexed=tuple(indexed),
        scanned=re.compile("|".join(f"(?:{p})" for p in scanned)) if scanned else None,
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
    """One regex matching any of the patterns, on lower-cased text (None when there are none)."""
    compiled = _patterns(patterns, label)
    if not compiled:
        return None
    return re.compile("|".join(f"(?:{p.pattern})" for p in compiled))


def _patterns(patterns: str | Sequence[str] | None, label: str) -> list[re.Pattern[str]]:
    """Each pattern compiled for lower-cased text.

    Lower-casing the text once and the patterns' letters here is what IGNORECASE would do, at
    half the cost: reading time is dominated by these searches.
    """
    if patterns is None:
        return []
    if isinstance(patterns, str):
        patterns = [patterns]
    try:
        return [re.compile(_PATTERN_LETTER.sub(_lower_letter, str(p))) for p in patterns]
    except re.error as error:
        raise StanceRulesError(f"{label}: bad pattern: {error}") from error


def _lower_letter(match: re.Match[str]) -> str:
    found = match.group()
    return found if found.startswith("\\") else found.lower()


# --- the word-start index of cues ---------------------------------------------------------------
#
# Most cues start with \b and some literal words ("\bpaus(e|ed)\b", "\b(will|shall) not"): such a
# cue can only match where a word starts with one of its literal prefixes ("pause", "paused",
# "will not", "shall not"). The prefixes are read from the cue's parse tree. One regex (a trie of
# every prefix) finds the word starts where some cue may match; there, the first letters of the
# word (a key: "pau", "wil") name the cues to try. A cue whose prefixes cannot be read is searched
# whole, so the index only saves time and never changes what matches.


def _cue_index(rules: Sequence[Rule]) -> dict[str, tuple[tuple[int, re.Pattern[str]], ...]]:
    """Key -> the (rule number, cue) pairs whose prefixes start with it."""
    index: dict[str, list[tuple[int, re.Pattern[str]]]] = {}
    for number, rule in enumerate(rules):
        for prefixes, cue in rule.indexed:
            short = {p[:SHORT_KEY_LENGTH] for p in prefixes if len(p) < KEY_LENGTH}
            keys = {p[:KEY_LENGTH] for p in prefixes if p[:SHORT_KEY_LENGTH] not in short}
            for key in keys | short:  # one key per word start: a cue is tried once there
                index.setdefault(key, []).append((number, cue))
    return {key: tuple(cues) for key, cues in index.items()}


def _cue_starts(rules: Sequence[Rule]) -> re.Pattern[str]:
    """One regex finding the word starts where some indexed cue may match."""
    prefixes = sorted({p for rule in rules for prefixes, _ in rule.indexed for p in prefixes})
    if not prefixes:
        return re.compile(r"(?!)")  # nothing indexed: every cue is searched whole
    return re.compile(rf"\b(?=(?:{trie(prefixes)}))")

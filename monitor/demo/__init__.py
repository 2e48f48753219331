"""`stancewatch demo`: the whole pipeline on a newcomer's machine, with no network.

Sample pages of two fictional companies (`pages/`, package data) are served from 127.0.0.1 and
changed between check passes: a baseline, noise that must be ignored, a pause, a wording edit
and a resumption. The alerts are printed as they would reach Slack (or sent there, when Slack is
configured) and the report is built at the end. The scenario is data (`script.py`), the local
web site is `site.py`, and `walkthrough.py` runs and narrates it.
"""

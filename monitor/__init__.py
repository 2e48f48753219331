"""Stancewatch: watch companies' pages on Hong Kong data requests and alert on changes."""

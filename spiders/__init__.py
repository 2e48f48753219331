"""Scrapy spiders of Stancewatch."""

"""Remainly's Telegram bot."""

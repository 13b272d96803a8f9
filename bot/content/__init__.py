"""Every word the bot says, from content/: templates, decks, articles, videos, check-ins, safety."""

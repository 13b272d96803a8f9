"""Helpers the tests share, imported from here and never from another test module.

Like python-telegram-bot's tests/auxil. Fixtures stay in the conftest.py files, built from
these; the two Bot API fakes live in tests/fakes.

- databases: the test PostgreSQL server (URLs, admin statements, reachability)
- factories: people, couples and engines set up directly in the database (service tests)
- senders:   a Sender stand-in that records Outgoing messages
- waiting:   stepping a fixed clock through due work, and polling another process
- app:       the real Application on the recording transport, and people who onboard and pair
- process:   the bot as a real process, its command line, and partners who onboard and pair
"""

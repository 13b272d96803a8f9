"""The only place that talks to Telegram: context, transport, sender and the handlers."""

"""The email channel: IMAP intake, parsing, threading, automatic replies and SMTP delivery of the outbox."""

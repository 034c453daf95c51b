"""Admin Hub users and their server-side web sessions."""

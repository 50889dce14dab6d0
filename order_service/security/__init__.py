"""Request signing and verification, service identities, user tokens, the audit log."""

"""Security primitives: secrets at rest (encryption) and password hashing."""

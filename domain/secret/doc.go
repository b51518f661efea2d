// Package secret keeps the service's secrets unreadable at rest: security
// answers as argon2id hashes, one-time codes as keyed hashes, and each card's
// PUK and management key sealed with AES-GCM under a key-encryption key (KEK)
// that lives in a file outside the database.
package secret

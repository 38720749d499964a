// Package auth owns gafferd's API keys and users, and decides what a caller
// may do (gaffer-http-api.md §3, §7).
//
// A key is a random 32-hex token with a label, permissions and an optional
// parent; deleting a key deletes the keys made under it, recursively. A user
// is a name, a password (argon2id; gaffer 0.5's PBKDF2 hashes are verified
// and replaced on the next successful login), a type (0 user, 1
// application), the key the user acts with, and free extra fields.
//
// KeyStore and UserStore keep their whole content in memory behind a mutex
// and write it to one JSON file each (mode 0600, written to a temporary file,
// fsynced and renamed over the old one, so a crash leaves the old or the new
// content, never a mix). They are safe for concurrent use. A store opened
// with the path ":memory:" is never written.
//
// Authorizer resolves the caller of an HTTP request (a trusted connection,
// an X-Api-Key header or Basic credentials) and answers Can questions; the
// API packages adapt their own permission types onto Level, so this package
// imports none of them. Guard checks Host and Origin headers against DNS
// rebinding and cross-site requests.
package auth

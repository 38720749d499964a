package auth

import (
	"crypto/rand"
	"crypto/sha1"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"golang.org/x/crypto/argon2"
	"golang.org/x/crypto/pbkdf2"
)

// argon2id parameters of new hashes: OWASP's recommendation (19 MiB, 2
// passes, 1 lane). They are stored in each hash, so raising them later keeps
// old hashes valid.
const (
	argonMemory  = 19 * 1024 // KiB
	argonTime    = 2
	argonThreads = 1
	argonKeyLen  = 32
	argonSaltLen = 16
)

// Bounds on parameters read from a stored hash: a corrupted or hostile
// store must not make one login allocate gigabytes or run for minutes.
const (
	maxArgonMemory = 1 << 20 // KiB: 1 GiB
	maxArgonTime   = 64
	maxPBKDF2Iter  = 10_000_000
)

// ErrBadHash is wrapped when a stored password hash cannot be read.
var ErrBadHash = errors.New("unreadable password hash")

// HashPassword returns the argon2id hash of password in the PHC string
// format: $argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash> (unpadded base64).
func HashPassword(password string) string {
	salt := make([]byte, argonSaltLen)
	rand.Read(salt) // never fails (crypto/rand panics rather than return short)
	key := argon2.IDKey([]byte(password), salt, argonTime, argonMemory, argonThreads, argonKeyLen)
	b64 := base64.RawStdEncoding
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, argonMemory, argonTime, argonThreads,
		b64.EncodeToString(salt), b64.EncodeToString(key))
}

// VerifyPassword reports whether password matches hash, comparing in
// constant time. hash is an argon2id PHC string, or gaffer 0.5's
// "PBKDF2-256$<salt>:<iterations>$<hex>" (HMAC-SHA1, 24 bytes, despite the
// name); rehash is true for the latter, which should be replaced by
// HashPassword(password) once verified.
func VerifyPassword(hash, password string) (ok, rehash bool, err error) {
	switch {
	case strings.HasPrefix(hash, "$argon2id$"):
		ok, err = verifyArgon2(hash, password)
		return ok, false, err
	case strings.HasPrefix(hash, "PBKDF2-256$"):
		ok, err = verifyPBKDF2(hash, password)
		return ok, ok, err
	}
	return false, false, fmt.Errorf("%w: unknown scheme", ErrBadHash)
}

func verifyArgon2(hash, password string) (bool, error) {
	// "", "argon2id", "v=19", "m=…,t=…,p=…", salt, key
	parts := strings.Split(hash, "$")
	if len(parts) != 6 {
		return false, fmt.Errorf("%w: argon2id: want 5 fields", ErrBadHash)
	}
	if parts[2] != "v="+strconv.Itoa(argon2.Version) {
		return false, fmt.Errorf("%w: argon2id version %q", ErrBadHash, parts[2])
	}
	var m, t uint32
	var p uint8
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &m, &t, &p); err != nil {
		return false, fmt.Errorf("%w: argon2id parameters %q", ErrBadHash, parts[3])
	}
	if m == 0 || m > maxArgonMemory || t == 0 || t > maxArgonTime || p == 0 {
		return false, fmt.Errorf("%w: argon2id parameters %q out of range", ErrBadHash, parts[3])
	}
	b64 := base64.RawStdEncoding
	salt, err1 := b64.DecodeString(parts[4])
	want, err2 := b64.DecodeString(parts[5])
	if err1 != nil || err2 != nil || len(salt) == 0 || len(want) < 16 || len(want) > 128 {
		return false, fmt.Errorf("%w: argon2id salt or key", ErrBadHash)
	}
	got := argon2.IDKey([]byte(password), salt, t, m, p, uint32(len(want)))
	return subtle.ConstantTimeCompare(got, want) == 1, nil
}

func verifyPBKDF2(hash, password string) (bool, error) {
	rest := strings.TrimPrefix(hash, "PBKDF2-256$")
	params, hexKey, ok := strings.Cut(rest, "$")
	if !ok {
		return false, fmt.Errorf("%w: PBKDF2: no key", ErrBadHash)
	}
	salt, iterText, ok := strings.Cut(params, ":")
	iter, err := strconv.Atoi(iterText)
	if !ok || err != nil || iter < 1 || iter > maxPBKDF2Iter || salt == "" {
		return false, fmt.Errorf("%w: PBKDF2 parameters %q", ErrBadHash, params)
	}
	want, err := hex.DecodeString(hexKey)
	if err != nil || len(want) == 0 || len(want) > 64 {
		return false, fmt.Errorf("%w: PBKDF2 key", ErrBadHash)
	}
	got := pbkdf2.Key([]byte(password), []byte(salt), iter, len(want), sha1.New)
	return subtle.ConstantTimeCompare(got, want) == 1, nil
}

// legacyHash is gaffer 0.5's hash of password, for tests and imports.
func legacyHash(password, salt string, iter int) string {
	key := pbkdf2.Key([]byte(password), []byte(salt), iter, 24, sha1.New)
	return fmt.Sprintf("PBKDF2-256$%s:%d$%s", salt, iter, hex.EncodeToString(key))
}

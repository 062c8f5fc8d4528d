"""TensorFlow's two string hashes, in plain Python, so that Hashing puts a string in TF's bin.

    fingerprint64(b"...")        FarmHash's Fingerprint64 (farmhashna::Hash64): what
                                 tf.strings.to_hash_bucket_fast uses (Hashing without a salt,
                                 and the lookup layers' extra OOV buckets)
    siphash24(b"...", (k0, k1))  SipHash-2-4 with a 128-bit key: what
                                 tf.strings.to_hash_bucket_strong uses (Hashing(salt=...))
    fingerprint_cat64(h1, h2)    two fingerprints combined into one: what
                                 tf.sparse.cross_hashed chains (HashedCrossing)

A bucket is then `hash % num_bins`, as TensorFlow's kernels take it. Both work on unsigned
64-bit integers; Python's ints are unbounded, so every product and sum is cut back to 64 bits
with `& M`. They are read, not fast (a few microseconds a string), which suits preprocessing.
"""
M = (1 << 64) - 1  # unsigned 64-bit arithmetic: x & M

# FarmHash's constants (farmhash.cc)
K0, K1, K2 = 0xc3a5c85c97cb3127, 0xb492b66fbe98f273, 0x9ae16a3b2f90404f
K_MUL = 0x9ddfea08eb382d69  # Hash128to64's multiplier


def _fetch64(s, i):
    return int.from_bytes(s[i:i + 8], "little")


def _fetch32(s, i):
    return int.from_bytes(s[i:i + 4], "little")


def _rotate(v, shift):
    """Rotate right by `shift` bits (64-bit)."""
    return v if shift == 0 else ((v >> shift) | (v << (64 - shift))) & M


def _shift_mix(v):
    return v ^ (v >> 47)


def _hash_len16(u, v, mul=K_MUL):
    """Two words mixed into one (Murmur-inspired; Hash128to64 when mul is K_MUL)."""
    a = ((u ^ v) * mul) & M
    a ^= a >> 47
    b = ((v ^ a) * mul) & M
    b ^= b >> 47
    return (b * mul) & M


def _hash_len0to16(s):
    n = len(s)
    if n >= 8:
        mul = (K2 + n * 2) & M
        a = (_fetch64(s, 0) + K2) & M
        b = _fetch64(s, n - 8)
        c = (_rotate(b, 37) * mul + a) & M
        d = ((_rotate(a, 25) + b) * mul) & M
        return _hash_len16(c, d, mul)
    if n >= 4:
        mul = (K2 + n * 2) & M
        a = _fetch32(s, 0)
        return _hash_len16((n + (a << 3)) & M, _fetch32(s, n - 4), mul)
    if n > 0:
        a, b, c = s[0], s[n >> 1], s[n - 1]
        y = (a + (b << 8)) & 0xFFFFFFFF
        z = (n + (c << 2)) & 0xFFFFFFFF
        return (_shift_mix(((y * K2) & M) ^ ((z * K0) & M)) * K2) & M
    return K2


def _hash_len17to32(s):
    n = len(s)
    mul = (K2 + n * 2) & M
    a = (_fetch64(s, 0) * K1) & M
    b = _fetch64(s, 8)
    c = (_fetch64(s, n - 8) * mul) & M
    d = (_fetch64(s, n - 16) * K2) & M
    return _hash_len16((_rotate((a + b) & M, 43) + _rotate(c, 30) + d) & M,
                       (a + _rotate((b + K2) & M, 18) + c) & M, mul)


def _hash_len33to64(s):
    n = len(s)
    mul = (K2 + n * 2) & M
    a = (_fetch64(s, 0) * K2) & M
    b = _fetch64(s, 8)
    c = (_fetch64(s, n - 8) * mul) & M
    d = (_fetch64(s, n - 16) * K2) & M
    y = (_rotate((a + b) & M, 43) + _rotate(c, 30) + d) & M
    z = _hash_len16(y, (a + _rotate((b + K2) & M, 18) + c) & M, mul)
    e = (_fetch64(s, 16) * mul) & M
    f = _fetch64(s, 24)
    g = ((y + _fetch64(s, n - 32)) * mul) & M
    h = ((z + _fetch64(s, n - 24)) * mul) & M
    return _hash_len16((_rotate((e + f) & M, 43) + _rotate(g, 30) + h) & M,
                       (e + _rotate((f + a) & M, 18) + g) & M, mul)


def _weak_hash_len32_with_seeds(s, i, a, b):
    """Two words from the 32 bytes at s[i:] and two seeds."""
    w, x, y, z = (_fetch64(s, i + k) for k in (0, 8, 16, 24))
    a = (a + w) & M
    b = _rotate((b + a + z) & M, 21)
    c = a
    a = (a + x + y) & M
    b = (b + _rotate(a, 44)) & M
    return (a + z) & M, (b + c) & M


def fingerprint64(s):
    """FarmHash Fingerprint64 of the bytes `s` (TensorFlow's tf.strings.to_hash_bucket_fast).

    Formula: short strings (<= 64 bytes) mix their first and last words directly; longer
    ones run 64-byte blocks through a state of seven words (x, y, z, v, w), then the last
    64 bytes once more with a multiplier taken from z, and fold the state into one word.
    """
    n = len(s)
    if n <= 16:
        return _hash_len0to16(s)
    if n <= 32:
        return _hash_len17to32(s)
    if n <= 64:
        return _hash_len33to64(s)
    seed = 81
    x = seed
    y = (seed * K1 + 113) & M
    z = (_shift_mix((y * K2 + 113) & M) * K2) & M
    v, w = (0, 0), (0, 0)
    x = (x * K2 + _fetch64(s, 0)) & M
    end = ((n - 1) // 64) * 64
    last64 = end + ((n - 1) & 63) - 63
    i = 0
    while True:
        x = (_rotate((x + y + v[0] + _fetch64(s, i + 8)) & M, 37) * K1) & M
        y = (_rotate((y + v[1] + _fetch64(s, i + 48)) & M, 42) * K1) & M
        x ^= w[1]
        y = (y + v[0] + _fetch64(s, i + 40)) & M
        z = (_rotate((z + w[0]) & M, 33) * K1) & M
        v = _weak_hash_len32_with_seeds(s, i, (v[1] * K1) & M, (x + w[0]) & M)
        w = _weak_hash_len32_with_seeds(s, i + 32, (z + w[1]) & M,
                                        (y + _fetch64(s, i + 16)) & M)
        z, x = x, z
        i += 64
        if i == end:
            break
    mul = (K1 + ((z & 0xff) << 1)) & M
    i = last64
    w = ((w[0] + ((n - 1) & 63)) & M, w[1])
    v = ((v[0] + w[0]) & M, v[1])
    w = ((w[0] + v[0]) & M, w[1])
    x = (_rotate((x + y + v[0] + _fetch64(s, i + 8)) & M, 37) * mul) & M
    y = (_rotate((y + v[1] + _fetch64(s, i + 48)) & M, 42) * mul) & M
    x ^= (w[1] * 9) & M
    y = (y + v[0] * 9 + _fetch64(s, i + 40)) & M
    z = (_rotate((z + w[0]) & M, 33) * mul) & M
    v = _weak_hash_len32_with_seeds(s, i, (v[1] * mul) & M, (x + w[0]) & M)
    w = _weak_hash_len32_with_seeds(s, i + 32, (z + w[1]) & M, (y + _fetch64(s, i + 16)) & M)
    z, x = x, z
    return _hash_len16((_hash_len16(v[0], w[0], mul) + _shift_mix(y) * K0 + z) & M,
                       (_hash_len16(v[1], w[1], mul) + x) & M, mul)


def _rotl(v, shift):
    return ((v << shift) | (v >> (64 - shift))) & M


def _sip_round(v0, v1, v2, v3):
    v0 = (v0 + v1) & M
    v1 = _rotl(v1, 13) ^ v0
    v0 = _rotl(v0, 32)
    v2 = (v2 + v3) & M
    v3 = _rotl(v3, 16) ^ v2
    v0 = (v0 + v3) & M
    v3 = _rotl(v3, 21) ^ v0
    v2 = (v2 + v1) & M
    v1 = _rotl(v1, 17) ^ v2
    v2 = _rotl(v2, 32)
    return v0, v1, v2, v3


def siphash24(s, key):
    """SipHash-2-4 of the bytes `s` with the key (k0, k1) (tf.strings.to_hash_bucket_strong).

    Formula: four words start from the key xor "somepseudorandomlygeneratedbytes"; each
    8-byte little-endian word m is xored into v3, two rounds run, m is xored into v0; the
    last word carries the length in its top byte; then v2 ^= 0xff, four rounds, and the
    result is v0 ^ v1 ^ v2 ^ v3.
    """
    k0, k1 = (int(k) & M for k in key)
    v0, v1 = k0 ^ 0x736f6d6570736575, k1 ^ 0x646f72616e646f6d
    v2, v3 = k0 ^ 0x6c7967656e657261, k1 ^ 0x7465646279746573
    n = len(s)
    tail = (n & 0xff) << 56
    words = [int.from_bytes(s[i:i + 8], "little") for i in range(0, n - n % 8, 8)]
    words.append(tail | int.from_bytes(s[n - n % 8:], "little"))
    for m in words:
        v3 ^= m
        for _ in range(2):
            v0, v1, v2, v3 = _sip_round(v0, v1, v2, v3)
        v0 ^= m
    v2 ^= 0xff
    for _ in range(4):
        v0, v1, v2, v3 = _sip_round(v0, v1, v2, v3)
    return v0 ^ v1 ^ v2 ^ v3


K_CAT = 0xc6a4a7935bd1e995  # FingerprintCat64's multiplier (tensorflow/core/platform/fingerprint.h)


def fingerprint_cat64(fp1, fp2):
    """Two 64-bit fingerprints combined into one, order-dependent (TensorFlow's FingerprintCat64).

    Formula (all mod 2**64; shift_mix(v) = v ^ (v >> 47)):
        h = fp1 ^ K;  h ^= shift_mix(fp2 * K) * K;  h *= K;  h = shift_mix(shift_mix(h) * K)
    """
    h = fp1 ^ K_CAT
    h ^= (_shift_mix((fp2 * K_CAT) & M) * K_CAT) & M
    h = (h * K_CAT) & M
    return _shift_mix((_shift_mix(h) * K_CAT) & M)

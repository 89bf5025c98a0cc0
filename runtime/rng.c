/* rng.c — the runtime's random numbers: xoshiro256** seeded by splitmix64.
 *
 * The one idea: every random number a program draws comes from one small,
 * explicitly passed state, so that a seed reproduces a run bit for bit on
 * any machine. There is no global generator and no hidden cache:
 * dlrt_rng_normal draws two uniforms and returns one value (the cosine
 * branch of Box-Muller) and throws the sine branch away, so the n-th normal
 * of a stream never depends on how earlier draws were interleaved with
 * uniform ones.
 *
 * References: Blackman and Vigna, "Scrambled linear pseudorandom number
 * generators" (xoshiro256**, splitmix64).
 */
#include <math.h>

#include "dlrt.h"

/* splitmix64: a 64-bit state stepped by the golden-ratio increment and
 * mixed; used only to expand a seed into xoshiro's 256-bit state. */
static uint64_t splitmix64(uint64_t *x) {
  uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

static uint64_t rotl(uint64_t x, int k) {
  return (x << k) | (x >> (64 - k));
}

/* Seed r from any 64-bit value (0 included). splitmix64 never yields four
 * zero words in a row, so the all-zero state that xoshiro cannot leave is
 * impossible. */
void dlrt_rng_seed(dlrt_rng *r, uint64_t seed) {
  uint64_t x = seed;
  for (int i = 0; i < 4; i++)
    r->s[i] = splitmix64(&x);
}

uint64_t dlrt_rng_next(dlrt_rng *r) {
  uint64_t *s = r->s;
  uint64_t result = rotl(s[1] * 5, 7) * 9;
  uint64_t t = s[1] << 17;
  s[2] ^= s[0];
  s[3] ^= s[1];
  s[1] ^= s[2];
  s[0] ^= s[3];
  s[2] ^= t;
  s[3] = rotl(s[3], 45);
  return result;
}

/* The top 53 bits as a multiple of 2^-53: uniform on [0, 1), exactly
 * representable, never 1. */
double dlrt_rng_uniform(dlrt_rng *r) {
  return (double)(dlrt_rng_next(r) >> 11) * 0x1.0p-53;
}

/* Box-Muller, cosine branch only (see the file comment). u1 is taken in
 * (0, 1] so that log(u1) is finite. Consumes exactly two draws. */
double dlrt_rng_normal(dlrt_rng *r) {
  double u1 = 1.0 - dlrt_rng_uniform(r);
  double u2 = dlrt_rng_uniform(r);
  return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}

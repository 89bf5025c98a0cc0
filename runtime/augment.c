/* augment.c — data augmentation: random crops, flips, small rotations and
 * scalings of the images of a training batch.
 *
 * The one idea: every transform is a map from an output pixel back to
 * the input position it shows, so a sample's transforms compose into one
 * affine map (crop shift, mirror, rotation and scaling about the centre)
 * and the sample is resampled once, straight from the data set into the
 * train entry's input. Pixels whose position falls outside the image show
 * the fill value of their channel (what a raw 0 becomes after
 * normalisation). With no rotation or scaling the map is an integer shift
 * and copies pixels exactly; otherwise it samples bilinearly.
 *
 * Randomness: a sample's choices come from a generator seeded with (seed,
 * epoch, the sample's index in the data set) alone, drawn in a fixed order
 * whatever transforms are on, so they do not depend on the batch size,
 * the thread count, the shuffle or whether the run was resumed, and
 * switching one transform off leaves the others' choices alone.
 *
 *   output (x, y) --crop--> (x + dx, y + dy) --flip--> (W-1 - x - dx, ...)
 *     --rotate, scale--> c + R(-angle) (q - c) / zoom   (c: the centre)
 */
#include <ctype.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "dlrt.h"

enum { PURPOSE_AUGMENT = 4 };   /* distinct from the trainer's purposes */

/* ---- the train key ------------------------------------------------------- */

/* Copy the transform at *s, up to a comma at depth 0, into item (spaces
 * trimmed); *s moves to that comma or the end. False when it is empty or
 * does not fit. */
static bool next_item(const char **s, char *item, size_t cap) {
  const char *p = *s;
  while (isspace((unsigned char)*p))
    p++;
  const char *start = p;
  for (int depth = 0; *p && (depth > 0 || *p != ','); p++)
    depth += *p == '(' || *p == '[' ? 1 : *p == ')' || *p == ']' ? -1 : 0;
  size_t n = (size_t)(p - start);
  while (n > 0 && isspace((unsigned char)start[n - 1]))
    n--;
  *s = p;
  if (n == 0 || n >= cap)
    return false;
  memcpy(item, start, n);
  item[n] = 0;
  return true;
}

/* Argument key (or positional pos) of c as a number in [lo, hi]: def when
 * absent, required when def is NAN. */
static bool aug_arg(const dlrt_call *c, const char *key, int pos, double lo,
                    double hi, double def, double *out, char *err) {
  const char *v = dlrt_call_arg(c, key, pos);
  if (!v && isnan(def))
    return dlrt_fail(err, "augment: %s(...) needs %s", c->name, key);
  *out = def;
  if (v && (!dlrt_parse_number(v, out) || *out < lo || *out > hi))
    return dlrt_fail(err, "augment: %s: %s = '%s' is not a number in [%g, %g]",
                     c->name, key, v, lo, hi);
  return true;
}

/* Every keyword of c is one of names[0..n), and at most n arguments. */
static bool aug_known(const dlrt_call *c, const char *const *names, int n,
                      char *err) {
  for (int i = 0; i < c->nargs; i++) {
    bool ok = !c->key[i][0];
    for (int k = 0; k < n; k++)
      ok |= strcmp(c->key[i], names[k]) == 0;
    if (!ok)
      return dlrt_fail(err, "augment: %s has no argument '%s'", c->name, c->key[i]);
  }
  if (c->nargs > n)
    return dlrt_fail(err, "augment: %s takes at most %d argument%s", c->name, n,
                     n == 1 ? "" : "s");
  return true;
}

/* One transform into a; seen[] catches repeats. */
static bool parse_transform(dlrt_augment *a, const dlrt_call *c, bool seen[4],
                            char *err) {
  static const char *const names[4] = {"crop", "flip", "rotate", "scale"};
  static const char *const crop_args[] = {"pad"}, *const flip_args[] = {"p"};
  static const char *const rot_args[] = {"degrees"}, *const scale_args[] = {"low", "high"};
  int k = 0;
  while (k < 4 && strcmp(c->name, names[k]) != 0)
    k++;
  if (k == 4)
    return dlrt_fail(err, "augment: unknown transform '%s' (crop(pad), flip(p), "
                     "rotate(degrees), scale(low, high), or none)", c->name);
  if (seen[k])
    return dlrt_fail(err, "augment: %s is given twice", c->name);
  seen[k] = true;
  double pad;
  switch (k) {
  case 0:
    if (!aug_known(c, crop_args, 1, err) ||
        !aug_arg(c, "pad", 0, 1, 1e6, NAN, &pad, err))
      return false;
    if (pad != floor(pad))
      return dlrt_fail(err, "augment: crop: pad = %g is not a whole number", pad);
    a->pad = (int64_t)pad;
    return true;
  case 1:
    return aug_known(c, flip_args, 1, err) &&
           aug_arg(c, "p", 0, 0, 1, 0.5, &a->flip, err);
  case 2:
    if (!aug_known(c, rot_args, 1, err) ||
        !aug_arg(c, "degrees", 0, 0, 180, NAN, &a->degrees, err))
      return false;
    return a->degrees > 0 ||
           dlrt_fail(err, "augment: rotate: degrees must be > 0 (leave rotate out instead)");
  default:
    if (!aug_known(c, scale_args, 2, err) ||
        !aug_arg(c, "low", 0, 1e-3, 1e3, NAN, &a->zoom_lo, err) ||
        !aug_arg(c, "high", 1, 1e-3, 1e3, NAN, &a->zoom_hi, err))
      return false;
    return a->zoom_lo <= a->zoom_hi ||
           dlrt_fail(err, "augment: scale: low = %g is above high = %g", a->zoom_lo,
                     a->zoom_hi);
  }
}

bool dlrt_augment_parse(dlrt_augment *a, const char *text, char *err) {
  char buf[256], item[256], why[DLRT_ERR_LEN];
  bool seen[4] = {false};
  *a = (dlrt_augment){.zoom_lo = 1, .zoom_hi = 1};
  const char *s = text ? text : "";
  while (isspace((unsigned char)*s))
    s++;
  size_t n = strlen(s);
  while (n > 0 && isspace((unsigned char)s[n - 1]))
    n--;
  if (n >= sizeof buf)
    return dlrt_fail(err, "augment: '%.40s...' is too long", s);
  if (n >= 2 && s[0] == '[' && s[n - 1] == ']')   /* a list, as in the .dlm file */
    s++, n -= 2;
  memcpy(buf, s, n);
  buf[n] = 0;
  if (strspn(buf, " \t") == n || strcmp(buf, "none") == 0)
    return true;
  for (const char *p = buf; *p; p += *p == ',') {
    dlrt_call c;
    if (!next_item(&p, item, sizeof item))
      return dlrt_fail(err, "augment: '%s': a transform is missing between commas",
                       buf);
    if (!dlrt_call_parse(&c, item, why))
      return dlrt_fail(err, "augment: %s", why);
    if (!parse_transform(a, &c, seen, err))
      return false;
  }
  return true;
}

bool dlrt_augment_active(const dlrt_augment *a) {
  return a->pad > 0 || a->flip > 0 || a->degrees > 0 || a->zoom_lo != 1 ||
         a->zoom_hi != 1;
}

/* ---- choices ------------------------------------------------------------- */

/* The splitmix64 finaliser. */
static uint64_t mix64(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

void dlrt_augment_choose(const dlrt_augment *a, uint64_t seed, int64_t epoch,
                         int64_t sample, dlrt_augment_choice *c) {
  dlrt_rng r;
  uint64_t k = mix64(mix64(seed) ^ ((uint64_t)PURPOSE_AUGMENT << 56));
  k = mix64(k + (uint64_t)epoch);
  dlrt_rng_seed(&r, k ^ (uint64_t)sample);
  /* Five draws, always, in this order (see the file comment). */
  double u_dx = dlrt_rng_uniform(&r), u_dy = dlrt_rng_uniform(&r);
  double u_flip = dlrt_rng_uniform(&r), u_angle = dlrt_rng_uniform(&r);
  double u_zoom = dlrt_rng_uniform(&r);
  int64_t span = 2 * a->pad + 1;
  c->dx = (int)((int64_t)(u_dx * (double)span) - a->pad);
  c->dy = (int)((int64_t)(u_dy * (double)span) - a->pad);
  c->flip = u_flip < a->flip;
  c->angle = a->degrees * (2 * u_angle - 1) * (3.14159265358979323846 / 180);
  c->zoom = a->zoom_lo + (a->zoom_hi - a->zoom_lo) * u_zoom;
}

/* ---- resampling ---------------------------------------------------------- */

/* No rotation or scaling: output (x, y) shows input (sx x + tx, y + dy),
 * or the fill. */
static void shift(float *dst, const float *src, int64_t H, int64_t W,
                  const dlrt_augment_choice *c, float fill) {
  int64_t sx = c->flip ? -1 : 1, tx = c->flip ? W - 1 - c->dx : c->dx;
  for (int64_t y = 0; y < H; y++) {
    int64_t iy = y + c->dy;
    float *out = dst + y * W;
    if (iy < 0 || iy >= H) {
      for (int64_t x = 0; x < W; x++)
        out[x] = fill;
      continue;
    }
    const float *row = src + iy * W;
    for (int64_t x = 0; x < W; x++) {
      int64_t ix = sx * x + tx;
      out[x] = ix >= 0 && ix < W ? row[ix] : fill;
    }
  }
}

/* The pixel (x, y) of a plane, or the fill outside it. */
static float tap(const float *src, int64_t H, int64_t W, int64_t x, int64_t y,
                 float fill) {
  return x >= 0 && x < W && y >= 0 && y < H ? src[y * W + x] : fill;
}

/* The general map: bilinear samples at src = A (x, y) + b, stepping the
 * position along each row. Taps inside the image (the common case) are
 * read directly; at the border each tap is checked. */
static void warp(float *dst, const float *src, int64_t H, int64_t W,
                 const dlrt_augment_choice *c, float fill) {
  double cx = (double)(W - 1) / 2, cy = (double)(H - 1) / 2;
  double co = cos(c->angle) / c->zoom, si = sin(c->angle) / c->zoom;
  double sx = c->flip ? -1 : 1, tx = c->flip ? (double)(W - 1 - c->dx) : c->dx;
  for (int64_t y = 0; y < H; y++) {
    double v = (double)(y + c->dy) - cy, u0 = tx - cx;
    /* position of output (0, y) and its step per x */
    double fx = cx + co * u0 - si * v, fy = cy + si * u0 + co * v;
    double ex = co * sx, ey = si * sx;
    float *out = dst + y * W;
    for (int64_t x = 0; x < W; x++, fx += ex, fy += ey) {
      if (!(fx >= -1 && fx < (double)W && fy >= -1 && fy < (double)H)) {
        out[x] = fill;
        continue;
      }
      /* floor, for values >= -1, without a call */
      int64_t ix = (int64_t)(fx + 1) - 1, iy = (int64_t)(fy + 1) - 1;
      float wx = (float)(fx - (double)ix), wy = (float)(fy - (double)iy), a, b, d, e;
      if (ix >= 0 && ix + 1 < W && iy >= 0 && iy + 1 < H) {
        const float *p = src + iy * W + ix;
        a = p[0], b = p[1], d = p[W], e = p[W + 1];
      } else {
        a = tap(src, H, W, ix, iy, fill), b = tap(src, H, W, ix + 1, iy, fill);
        d = tap(src, H, W, ix, iy + 1, fill), e = tap(src, H, W, ix + 1, iy + 1, fill);
      }
      float top = a + wx * (b - a), bot = d + wx * (e - d);
      out[x] = top + wy * (bot - top);
    }
  }
}

void dlrt_augment_apply(float *dst, const float *src, int64_t C, int64_t H,
                        int64_t W, const dlrt_augment_choice *c,
                        const float *fill) {
  bool exact = c->angle == 0 && c->zoom == 1;
  for (int64_t ch = 0; ch < C; ch++) {
    float f = fill ? fill[ch] : 0;
    if (exact)
      shift(dst + ch * H * W, src + ch * H * W, H, W, c, f);
    else
      warp(dst + ch * H * W, src + ch * H * W, H, W, c, f);
  }
}

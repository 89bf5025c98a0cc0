/* augment.c — tests of data augmentation (runtime/augment.c): the train
 * key's text as typed and as stored, each transform on a known image
 * against its formula (crops by known offsets, flips, rotation by 0, by a
 * quarter and a half turn, scaling), the fill of each channel, and the
 * random choices: reproducible from (seed, epoch, sample) alone, within
 * their ranges, and independent of the other transforms. */
#include <math.h>

#include "rt_test.h"

/* ---- the train key ------------------------------------------------------- */

static void test_parse(void) {
  dlrt_augment a;
  char err[DLRT_ERR_LEN] = "";
  bool ok = dlrt_augment_parse(&a, "crop(pad=2), flip(), rotate(degrees=10), "
                               "scale(low=0.9, high=1.1)", err);
  check("augment_parse_stored_form", ok && a.pad == 2 && a.flip == 0.5 && a.degrees == 10 &&
        a.zoom_lo == 0.9 && a.zoom_hi == 1.1 && dlrt_augment_active(&a), "%s", err);
  ok = dlrt_augment_parse(&a, " [ crop(3), flip(p = 1/4), scale(0.5, 2) ] ", err);
  check("augment_parse_typed_form", ok && a.pad == 3 && a.flip == 0.25 && a.degrees == 0 &&
        a.zoom_lo == 0.5 && a.zoom_hi == 2, "%s", err);
  ok = dlrt_augment_parse(&a, "flip", err);
  check("augment_parse_bare_name", ok && a.flip == 0.5 && a.pad == 0, "%s", err);
  bool off = dlrt_augment_parse(&a, "none", err) && !dlrt_augment_active(&a) &&
             dlrt_augment_parse(&a, "", err) && !dlrt_augment_active(&a) &&
             dlrt_augment_parse(&a, NULL, err) && !dlrt_augment_active(&a) &&
             dlrt_augment_parse(&a, "[]", err) && !dlrt_augment_active(&a);
  check("augment_parse_none", off, "%s", err);
  static const struct {
    const char *text, *want;
  } bad[] = {
    {"crop(pad=0)", "pad = '0' is not a number in [1,"},
    {"crop(pad=1.5)", "pad = 1.5 is not a whole number"},
    {"crop", "crop(...) needs pad"},
    {"flip(p=2)", "p = '2' is not a number in [0, 1]"},
    {"flip(q=1)", "flip has no argument 'q'"},
    {"rotate(200)", "degrees = '200' is not a number in [0, 180]"},
    {"rotate(0)", "degrees must be > 0"},
    {"scale(1.1, 0.9)", "low = 1.1 is above high = 0.9"},
    {"scale(1, 2, 3)", "scale takes at most 2 arguments"},
    {"blur(3)", "unknown transform 'blur'"},
    {"flip, flip", "flip is given twice"},
    {"crop(2),,flip", "a transform is missing between commas"},
    {"crop(2", "augment: 'crop(2': expected ',' or ')'"},
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    char name[64];
    snprintf(name, sizeof name, "augment_parse_refuses_%zu", i);
    err[0] = 0;
    check(name, !dlrt_augment_parse(&a, bad[i].text, err) && strstr(err, bad[i].want) &&
          strncmp(err, "augment: ", 9) == 0, "'%s': got '%s', want '%s'", bad[i].text,
          err, bad[i].want);
  }
}

/* ---- transforms ---------------------------------------------------------- */

enum { H = 4, W = 5 };

/* src[y][x] = 10 y + x + 1: every pixel distinct and nonzero. */
static void pattern(float *src) {
  for (int y = 0; y < H; y++)
    for (int x = 0; x < W; x++)
      src[y * W + x] = (float)(10 * y + x + 1);
}

/* The value the formula wants at (x, y) reading input (ix, iy). */
static float at(const float *src, int ix, int iy, float fill) {
  return ix >= 0 && ix < W && iy >= 0 && iy < H ? src[iy * W + ix] : fill;
}

static void test_crop_flip(void) {
  float src[H * W], dst[H * W];
  const float fill = -3;
  pattern(src);
  static const int shifts[][2] = {{1, -1}, {-2, 1}, {0, 0}, {3, 2}, {-1, -3}};
  bool crop_ok = true, flip_ok = true;
  for (size_t k = 0; k < sizeof shifts / sizeof shifts[0]; k++)
    for (int flip = 0; flip < 2; flip++) {
      dlrt_augment_choice c = {.dx = shifts[k][0], .dy = shifts[k][1], .flip = flip,
                               .angle = 0, .zoom = 1};
      dlrt_augment_apply(dst, src, 1, H, W, &c, &fill);
      for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++) {
          int ix = flip ? W - 1 - (x + c.dx) : x + c.dx;
          bool ok = dst[y * W + x] == at(src, ix, y + c.dy, fill);
          *(flip ? &flip_ok : &crop_ok) &= ok;
        }
    }
  check("augment_crop_known_offsets", crop_ok, "a pixel differs from in(y + dy, x + dx)");
  check("augment_flip_and_crop", flip_ok, "a pixel differs from in(y + dy, W-1 - x - dx)");
  dlrt_augment_choice c = {.flip = true, .zoom = 1};
  dlrt_augment_apply(dst, src, 1, H, W, &c, &fill);
  check("augment_flip_row", dst[0] == 5 && dst[4] == 1 && dst[2] == 3 && dst[W] == 15,
        "row 0: %g %g %g", dst[0], dst[1], dst[2]);
  c = (dlrt_augment_choice){.dx = 1, .dy = -1, .zoom = 1};
  dlrt_augment_apply(dst, src, 1, H, W, &c, &fill);
  check("augment_crop_by_hand", dst[0] == fill && dst[W] == 2 && dst[W + 3] == 5 &&
        dst[W + 4] == fill && dst[3 * W] == 22, "%g %g %g %g", dst[0], dst[W], dst[W + 4],
        dst[3 * W]);
}

/* The largest |a - b| over n values. */
static double max_diff(const float *a, const float *b, int n) {
  double m = 0;
  for (int i = 0; i < n; i++)
    m = fmax(m, fabs((double)a[i] - b[i]));
  return m;
}

static void test_rotate(void) {
  enum { S = 5 };
  float src[S * S], dst[S * S], want[S * S];
  for (int i = 0; i < S * S; i++)
    src[i] = (float)(i % 7 + 1);
  const double pi = 3.14159265358979323846;
  dlrt_augment_choice c = {.angle = 0, .zoom = 1};
  dlrt_augment_apply(dst, src, 1, S, S, &c, NULL);
  check("augment_rotate_0_identity", memcmp(dst, src, sizeof src) == 0, "differs");
  c.angle = 2 * pi;   /* the bilinear path, a whole turn */
  dlrt_augment_apply(dst, src, 1, S, S, &c, NULL);
  check("augment_rotate_360_identity", max_diff(dst, src, S * S) < 1e-5, "max diff %g",
        max_diff(dst, src, S * S));
  /* A quarter turn counterclockwise as displayed: the pixel right of the
   * centre moves above it; output (x, y) shows input (S-1 - y, x). */
  memset(src, 0, sizeof src);
  src[2 * S + 4] = 1;
  c.angle = pi / 2;
  dlrt_augment_apply(dst, src, 1, S, S, &c, NULL);
  check("augment_rotate_90_pixel", fabs(dst[0 * S + 2] - 1) < 1e-6 &&
        fabs(dst[2 * S + 4]) < 1e-6, "top middle %g, right middle %g", dst[2], dst[2 * S + 4]);
  for (int i = 0; i < S * S; i++)
    src[i] = (float)(i * i % 11 + 1);
  for (int y = 0; y < S; y++)
    for (int x = 0; x < S; x++)
      want[y * S + x] = src[x * S + (S - 1 - y)];
  dlrt_augment_apply(dst, src, 1, S, S, &c, NULL);
  check("augment_rotate_90_pattern", max_diff(dst, want, S * S) < 1e-5, "max diff %g",
        max_diff(dst, want, S * S));
  for (int i = 0; i < S * S; i++)
    want[i] = src[S * S - 1 - i];
  c.angle = -pi;
  dlrt_augment_apply(dst, src, 1, S, S, &c, NULL);
  check("augment_rotate_180_pattern", max_diff(dst, want, S * S) < 1e-5, "max diff %g",
        max_diff(dst, want, S * S));
  /* 45 degrees and smaller: the corners come from outside the image. */
  float fill = -1;
  c.angle = pi / 4;
  c.zoom = 0.7;
  dlrt_augment_apply(dst, src, 1, S, S, &c, &fill);
  check("augment_rotate_scale_corners_fill", dst[0] == fill && dst[S - 1] == fill &&
        dst[S * S - 1] == fill && dst[2 * S + 2] == src[2 * S + 2], "corners %g %g, centre %g",
        dst[0], dst[S - 1], dst[2 * S + 2]);
}

/* On a linear ramp bilinear sampling is exact: scaling by z about the
 * centre c shows c + (x - c) / z at x. */
static void test_scale(void) {
  enum { S = 9 };
  float src[S * S], dst[S * S];
  const float fill = 100;
  for (int y = 0; y < S; y++)
    for (int x = 0; x < S; x++)
      src[y * S + x] = (float)(x + 10 * y);
  dlrt_augment_choice c = {.zoom = 2};
  dlrt_augment_apply(dst, src, 1, S, S, &c, &fill);
  bool ok = true;
  for (int y = 0; y < S; y++)
    for (int x = 0; x < S; x++) {
      double fx = 4 + (x - 4) / 2.0, fy = 4 + (y - 4) / 2.0;
      ok = ok && fabs(dst[y * S + x] - (fx + 10 * fy)) < 1e-4;
    }
  check("augment_scale_2_enlarges", ok, "centre row: %g %g %g", dst[36], dst[37], dst[38]);
  c.zoom = 0.5;
  dlrt_augment_apply(dst, src, 1, S, S, &c, &fill);
  /* Output 3 reads input 4 + (3 - 4) * 2 = 2; output 0 reads -4: fill. */
  check("augment_scale_half_shrinks", fabs(dst[4 * S + 3] - (2 + 40)) < 1e-4 &&
        fabs(dst[4 * S + 4] - 44) < 1e-4 && dst[0] == fill && dst[4 * S] == fill,
        "%g %g %g", dst[4 * S + 3], dst[4 * S + 4], dst[0]);
  c.zoom = 1.25;   /* between pixels: bilinear interpolation of the ramp */
  dlrt_augment_apply(dst, src, 1, S, S, &c, &fill);
  check("augment_scale_bilinear", fabs(dst[4 * S + 0] - (4 - 4 / 1.25 + 40)) < 1e-4,
        "%g", dst[4 * S]);
}

static void test_channels(void) {
  float src[2 * H * W], dst[2 * H * W], fill[2] = {-1, -2};
  pattern(src);
  pattern(src + H * W);
  dlrt_augment_choice c = {.dx = 2, .zoom = 1};
  dlrt_augment_apply(dst, src, 2, H, W, &c, fill);
  check("augment_fill_per_channel", dst[W - 1] == -1 && dst[H * W + W - 1] == -2 &&
        dst[0] == 3 && dst[H * W] == 3, "%g %g", dst[W - 1], dst[H * W + W - 1]);
  c = (dlrt_augment_choice){.angle = 0.3, .zoom = 0.8};
  dlrt_augment_apply(dst, src, 2, H, W, &c, fill);
  check("augment_warp_fill_per_channel", dst[0] == -1 && dst[H * W] == -2, "%g %g", dst[0],
        dst[H * W]);
}

/* ---- choices ------------------------------------------------------------- */

static bool same_choice(const dlrt_augment_choice *a, const dlrt_augment_choice *b) {
  return a->dx == b->dx && a->dy == b->dy && a->flip == b->flip && a->angle == b->angle &&
         a->zoom == b->zoom;
}

static void test_choose(void) {
  dlrt_augment a, flip_off;
  char err[DLRT_ERR_LEN];
  dlrt_augment_parse(&a, "crop(2), flip(0.25), rotate(10), scale(0.9, 1.1)", err);
  dlrt_augment_parse(&flip_off, "crop(2), rotate(10), scale(0.9, 1.1)", err);
  dlrt_augment_choice c, d;
  int hits[5] = {0}, flips = 0, n = 20000;
  bool range = true, same = true, indep = true;
  double lo = 1e9, hi = -1e9;
  for (int s = 0; s < n; s++) {
    dlrt_augment_choose(&a, 7, 3, s, &c);
    dlrt_augment_choose(&a, 7, 3, s, &d);
    same = same && same_choice(&c, &d);
    range = range && c.dx >= -2 && c.dx <= 2 && c.dy >= -2 && c.dy <= 2 &&
            fabs(c.angle) <= 10 * 3.14159265358979323846 / 180 && c.zoom >= 0.9 && c.zoom <= 1.1;
    if (c.dx >= -2 && c.dx <= 2)
      hits[c.dx + 2]++;
    flips += c.flip;
    lo = fmin(lo, c.angle), hi = fmax(hi, c.angle);
    dlrt_augment_choose(&flip_off, 7, 3, s, &d);
    indep = indep && !d.flip && d.dx == c.dx && d.dy == c.dy && d.angle == c.angle &&
            d.zoom == c.zoom;
  }
  check("augment_choose_reproducible", same, "two draws differ");
  check("augment_choose_in_range", range, "a choice is out of range");
  bool spread = true;
  for (int i = 0; i < 5; i++)
    spread = spread && abs(hits[i] - n / 5) < n / 50;
  check("augment_choose_uniform_shift", spread, "dx counts %d %d %d %d %d", hits[0], hits[1],
        hits[2], hits[3], hits[4]);
  check("augment_choose_flip_probability", abs(flips - n / 4) < n / 50, "%d flips of %d",
        flips, n);
  check("augment_choose_angle_spread", lo < -0.17 && hi > 0.17, "angles in [%g, %g]", lo, hi);
  check("augment_choose_independent_transforms", indep,
        "switching flip off changed another transform's choice");
  int differ_epoch = 0, differ_seed = 0, differ_sample = 0;
  for (int s = 0; s < 100; s++) {
    dlrt_augment_choose(&a, 7, 3, s, &c);
    dlrt_augment_choose(&a, 7, 4, s, &d);
    differ_epoch += !same_choice(&c, &d);
    dlrt_augment_choose(&a, 8, 3, s, &d);
    differ_seed += !same_choice(&c, &d);
    dlrt_augment_choose(&a, 7, 3, s + 1, &d);
    differ_sample += !same_choice(&c, &d);
  }
  check("augment_choose_depends_on_epoch_seed_sample",
        differ_epoch == 100 && differ_seed == 100 && differ_sample == 100,
        "same choice: %d epochs, %d seeds, %d samples of 100", 100 - differ_epoch,
        100 - differ_seed, 100 - differ_sample);
  dlrt_augment none;
  dlrt_augment_parse(&none, "none", err);
  dlrt_augment_choose(&none, 7, 3, 5, &c);
  check("augment_choose_none_is_identity", c.dx == 0 && c.dy == 0 && !c.flip && c.angle == 0 &&
        c.zoom == 1, "dx %d dy %d flip %d angle %g zoom %g", c.dx, c.dy, c.flip, c.angle, c.zoom);
}

int main(void) {
  t_begin();
  test_parse();
  test_crop_flip();
  test_rotate();
  test_scale();
  test_channels();
  test_choose();
  return t_end();
}

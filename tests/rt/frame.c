/* frame.c — tests of the region blocks of a running model and of moving
 * parameters between checkpoints and the weight block: sizes, alignment,
 * addresses for a smaller batch, and refusal of checkpoints that belong to
 * another model or do not match it. */
#include <stdint.h>

#include "rt_test.h"

static const char manifest[] =
  "dlc-manifest 1\nmodel net\nsignature 00000000000000aa\ndlc 0.1.0\n"
  "region 1 100 0\nregion 2 10 0\nregion 3 8 40\n"
  "input x f32 data 0 2 -1 4 3 0\n"
  "output y f32 2 -1 5 3 16\n"
  "param W f32 2 4 5 1 0 xavier_uniform 0 0 4 5\n"
  "param b f32 1 5 1 80 zeros 0 0 0 0\n"
  "end\n";

static void test_alloc(const dlrt_model *m) {
  dlrt_frame f;
  char err[DLRT_ERR_LEN] = "";
  bool ok = dlrt_frame_alloc(&f, m, 64, err);
  bool aligned = ok;
  for (int r = 1; ok && r < DLRT_REGIONS; r++)
    aligned = aligned && f.base[r] && (uintptr_t)f.base[r] % 64 == 0;
  check("frame_alloc_aligned", aligned && f.N == 64 && f.base[0] == NULL, "%s", err);
  check("frame_region_bytes", dlrt_region_bytes(m, 3, 64) == 8 + 40 * 64 &&
        dlrt_region_bytes(m, 1, 64) == 100, "region 3: %lld",
        (long long)dlrt_region_bytes(m, 3, 64));
  if (ok) {
    f.N = 10;   /* a smaller last batch in the same blocks */
    check("frame_tensor_addr", (char *)dlrt_tensor_addr(&f, &m->outputs[0]) ==
          f.base[3] + 160 && (char *)dlrt_tensor_addr(&f, &m->params[1]) == f.base[1] + 80,
          "addresses differ");
    dlrt_frame_free(&f);
  }
  check("frame_alloc_refuses_batch_0", !dlrt_frame_alloc(&f, m, 0, err) &&
        strstr(err, "batch size 0"), "%s", err);
}

static void test_weights(const dlrt_model *m) {
  dlrt_frame f;
  char err[DLRT_ERR_LEN] = "";
  const char *path = tpath("w.ckpt");
  dlrt_frame_alloc(&f, m, 1, err);
  for (int i = 0; i < 20; i++)
    ((float *)f.base[1])[i] = (float)i;
  dlrt_kv meta = {"seed", "5"};
  bool ok = dlrt_frame_save_weights(&f, m, &meta, 1, path, err);
  dlrt_ckpt c;
  ok = ok && dlrt_ckpt_load(path, &c, err);
  check("frame_save_weights", ok && c.narrays == 2 && c.signature == 0xaa &&
        strcmp(c.model, "net") == 0 && c.arrays[0].dim[1] == 5 &&
        ((float *)c.arrays[0].data)[7] == 7, "%s", err);
  if (!ok)
    return;
  dlrt_frame g;
  dlrt_frame_alloc(&g, m, 2, err);
  ok = dlrt_frame_load_weights(&g, m, &c, path, err);
  check("frame_load_weights", ok && memcmp(g.base[1], f.base[1], 100) == 0, "%s", err);
  c.signature = 0xbb;
  strcpy(c.model, "other");
  check("frame_refuses_other_model", !dlrt_frame_load_weights(&g, m, &c, path, err) &&
        strstr(err, "w.ckpt: the checkpoint is for model 'other' (signature 00000000000000bb), "
               "but this program is model 'net' (signature 00000000000000aa)"), "%s", err);
  c.signature = 0xaa;
  c.arrays[0].dim[0] = 5, c.arrays[0].dim[1] = 4;
  check("frame_refuses_shape_mismatch", !dlrt_ckpt_check_model(m, &c, path, err) &&
        strstr(err, "param 'W' is f32 [5, 4] in the checkpoint, but the model wants f32 [4, 5]"),
        "%s", err);
  c.arrays[0].dim[0] = 4, c.arrays[0].dim[1] = 5;
  c.arrays[1].dtype = DLRT_I32;
  check("frame_refuses_dtype_mismatch", !dlrt_ckpt_check_model(m, &c, path, err) &&
        strstr(err, "param 'b' is i32 [5]"), "%s", err);
  c.arrays[1].dtype = DLRT_F32;
  strcpy(c.arrays[1].name, "bias");
  check("frame_refuses_missing_param", !dlrt_ckpt_check_model(m, &c, path, err) &&
        strstr(err, "has no array for param 'b'"), "%s", err);
  dlrt_ckpt_free(&c);
  dlrt_frame_free(&g);
  dlrt_frame_free(&f);
}

int main(void) {
  dlrt_model m;
  char err[DLRT_ERR_LEN];
  t_begin();
  if (!check("frame_manifest", dlrt_manifest_parse(&m, manifest, err), "%s", err))
    return t_end();
  test_alloc(&m);
  test_weights(&m);
  dlrt_model_free(&m);
  return t_end();
}

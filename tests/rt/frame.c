/* frame.c — tests of the memory of a running model and of moving
 * parameters and optimiser state between checkpoints and the blocks:
 * sizes, alignment, entering entries with their own activation layouts,
 * addresses for a smaller batch, and refusal of checkpoints that belong to
 * another model or do not match it. */
#include <stdint.h>

#include "rt_test.h"

static const char manifest[] =
  "dlc-manifest 1\nmodel net\nsignature 00000000000000aa\ndlc 0.1.0\n"
  "weights 100\nstate 80\n"
  "input x f32 data 0 2 -1 4\n"
  "param W f32 2 4 5 0 xavier_uniform 0 0 4 5\n"
  "param b f32 1 5 80 zeros 0 0 0 0\n"
  "state_tensor momentum.W f32 2 4 5 0\n"
  "entry forward 10 40\n"
  "in x 3 0\n"
  "out y f32 2 -1 5 3 16\n"
  "entry train 100 16\n"
  "in x 3 0\n"
  "out loss f32 0 2 96\n"
  "end\n";

static void test_alloc(const dlrt_model *m) {
  dlrt_frame f;
  char err[DLRT_ERR_LEN] = "";
  bool ok = dlrt_frame_alloc(&f, m, 64, err);
  bool aligned = ok;
  for (int r = 1; ok && r < DLRT_REGIONS; r++)
    aligned = aligned && (r == DLRT_R_TILE || (f.base[r] && (uintptr_t)f.base[r] % 64 == 0));
  /* the tile region is each sample group's own, set by generated code */
  check("frame_alloc_aligned", aligned && f.N == 64 && f.base[0] == NULL && !f.base[DLRT_R_TILE],
        "%s", err);
  /* forward: 64 + 40*64; train: 128 + 16*64: the block serves the larger */
  check("frame_act_bytes", dlrt_act_bytes(m, 64) == 64 + 40 * 64 &&
        dlrt_act_bytes(m, 1) == 128 + 16, "act(64) = %lld, act(1) = %lld",
        (long long)dlrt_act_bytes(m, 64), (long long)dlrt_act_bytes(m, 1));
  if (ok) {
    const dlrt_entry *fwd = &m->entry[DLRT_E_FORWARD], *tr = &m->entry[DLRT_E_TRAIN];
    check("frame_enter_forward", f.base[DLRT_R_ACTN] == f.base[DLRT_R_ACT] + 64 &&
          (char *)dlrt_tensor_addr(&f, &fwd->out[0]) == f.base[3] + 16 * 64,
          "ACTN at +%td", f.base[DLRT_R_ACTN] - f.base[DLRT_R_ACT]);
    dlrt_frame_enter(&f, m, DLRT_E_TRAIN, 10);   /* a smaller batch of another entry */
    check("frame_enter_train", f.N == 10 && f.base[DLRT_R_ACTN] == f.base[DLRT_R_ACT] + 128 &&
          (char *)dlrt_tensor_addr(&f, &tr->out[0]) == f.base[2] + 96 &&
          (char *)dlrt_tensor_addr(&f, &m->params[1]) == f.base[1] + 80 &&
          (char *)dlrt_tensor_addr(&f, &m->states[0]) == f.base[DLRT_R_STATE],
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
  check("frame_refuses_missing_state", !dlrt_frame_load_state(&g, m, &c, path, err) &&
        strstr(err, "has no array for state tensor 'momentum.W'"), "%s", err);
  dlrt_ckpt_free(&c);
  dlrt_frame_free(&g);
  dlrt_frame_free(&f);
}

/* A trainer's checkpoint: params, state tensors and best.<param>. */
static void test_train_ckpt(const dlrt_model *m) {
  dlrt_frame f, g;
  char err[DLRT_ERR_LEN] = "", best[100];
  const char *path = tpath("t.ckpt");
  dlrt_frame_alloc(&f, m, 1, err);
  dlrt_frame_alloc(&g, m, 1, err);
  for (int i = 0; i < 25; i++)
    ((float *)f.base[1])[i] = (float)i, ((float *)best)[i] = (float)(100 + i);
  for (int i = 0; i < 20; i++)
    ((float *)f.base[DLRT_R_STATE])[i] = (float)(-i);
  dlrt_kv meta = {"epoch", "2"};
  dlrt_ckpt c = {0};
  bool ok = dlrt_frame_save_train(&f, m, best, &meta, 1, path, err) &&
            dlrt_ckpt_load(path, &c, err);
  check("frame_save_train", ok && c.narrays == 5 && dlrt_ckpt_find(&c, "momentum.W") &&
        dlrt_ckpt_find(&c, "best.W") && dlrt_ckpt_find(&c, "best.b"), "%s", err);
  char got[100] = {0};
  ok = ok && dlrt_frame_load_weights(&g, m, &c, path, err) &&
       dlrt_frame_load_state(&g, m, &c, path, err) &&
       dlrt_ckpt_get_params(m, &c, "best.", got, path, err);
  check("frame_load_train", ok && memcmp(g.base[1], f.base[1], 100) == 0 &&
        memcmp(g.base[DLRT_R_STATE], f.base[DLRT_R_STATE], 80) == 0 &&
        memcmp(got, best, 100) == 0, "%s", err);
  check("frame_refuses_missing_prefix", !dlrt_ckpt_get_params(m, &c, "nope.", got, path, err) &&
        strstr(err, "no array for param 'nope.W'"), "%s", err);
  dlrt_ckpt_free(&c);
  dlrt_frame_free(&f);
  dlrt_frame_free(&g);
}

/* Weights versions (dlrt_params_changed): every frame gets its own, and
 * every runtime function that writes the weight block gives a new one,
 * even when it refuses the checkpoint. */
static void test_versions(const dlrt_model *m) {
  dlrt_frame f, g;
  char err[DLRT_ERR_LEN] = "";
  const char *path = tpath("v.ckpt");
  dlrt_frame_alloc(&f, m, 1, err);
  dlrt_frame_alloc(&g, m, 1, err);
  uint64_t v0 = f.version;
  check("frame_version_alloc", v0 != 0 && g.version != 0 && g.version != v0,
        "versions %llu and %llu", (unsigned long long)v0, (unsigned long long)g.version);
  dlrt_init_weights(&f, m, 1);
  uint64_t v1 = f.version;
  dlrt_params_changed(&f);
  uint64_t v2 = f.version;
  check("frame_version_changes", v1 != v0 && v1 != g.version && v2 != v1 && v2 != v0,
        "%llu, %llu, %llu", (unsigned long long)v0, (unsigned long long)v1,
        (unsigned long long)v2);
  dlrt_ckpt c = {0};
  bool ok = dlrt_frame_save_weights(&f, m, NULL, 0, path, err) && dlrt_ckpt_load(path, &c, err);
  check("frame_version_save_keeps", ok && f.version == v2, "%s", err);
  uint64_t before = g.version;
  ok = ok && dlrt_frame_load_weights(&g, m, &c, path, err);
  uint64_t loaded = g.version;
  c.arrays[1].dtype = DLRT_I32; /* refused: a new version all the same */
  bool refused = !dlrt_frame_load_weights(&g, m, &c, path, err);
  check("frame_version_load", ok && loaded != before && refused && g.version != loaded,
        "%s", err);
  dlrt_ckpt_free(&c);
  dlrt_frame_free(&f);
  dlrt_frame_free(&g);
}

int main(void) {
  dlrt_model m;
  char err[DLRT_ERR_LEN];
  t_begin();
  if (!check("frame_manifest", dlrt_manifest_parse(&m, manifest, err), "%s", err))
    return t_end();
  test_alloc(&m);
  test_weights(&m);
  test_train_ckpt(&m);
  test_versions(&m);
  dlrt_model_free(&m);
  return t_end();
}

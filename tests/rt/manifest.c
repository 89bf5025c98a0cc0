/* manifest.c — tests of the manifest parser: a full sample parses into the
 * expected model, each kind of malformed line is refused with its line
 * number and reason, and random damage never crashes the parser. */
#include "rt_test.h"

static const char sample[] =
  "dlc-manifest 1\n"
  "model lenet\n"
  "signature 00ff00ff12345678\n"
  "dlc 0.1.0\n"
  "region 1 4096 0\n"
  "region 2 128 0\n"
  "region 3 64 3200\n"
  "input image f32 data 0 4 -1 1 28 28 3 0\n"
  "input y i32 label 10 1 -1 3 3136\n"
  "output probs f32 2 -1 10 3 3140\n"
  "param W f32 2 784 1 1 0 xavier_uniform 0 0 784 1\n"
  "param b f32 1 1 1 3136 const 0.10000000000000001 0 0 0\n"
  "train lr 0.01\n"
  "train data idx(\"a b.gz\", scale = 1/255)\n"
  "train empty \n"
  "end\n"
  "anything after end is ignored\n";

static void test_sample(void) {
  dlrt_model m;
  char err[DLRT_ERR_LEN];
  bool ok = dlrt_manifest_parse(&m, sample, err);
  check("manifest_sample_parses", ok, "%s", err);
  if (!ok)
    return;
  const dlrt_tensor *x = &m.inputs[0], *y = &m.inputs[1], *W = &m.params[0];
  check("manifest_header_fields", strcmp(m.name, "lenet") == 0 &&
        m.signature == 0x00ff00ff12345678ull && strcmp(m.dlc_version, "0.1.0") == 0 &&
        m.region_k[1] == 4096 && m.region_n[3] == 3200 && m.region_k[3] == 64,
        "name %s signature %llx", m.name, (unsigned long long)m.signature);
  check("manifest_tensors", m.ninputs == 2 && m.noutputs == 1 && m.nparams == 2 &&
        x->rank == 4 && x->dim[0] == -1 && x->dim[3] == 28 && !x->label &&
        y->label && y->classes == 10 && y->dtype == DLRT_I32 && y->off == 3136 &&
        strcmp(m.outputs[0].name, "probs") == 0 && m.outputs[0].region == 3,
        "inputs/outputs differ from the sample");
  check("manifest_params", strcmp(W->init, "xavier_uniform") == 0 && W->fan_in == 784 &&
        W->fan_out == 1 && W->region == DLRT_R_WEIGHT && m.params[1].init_a == 0.1 &&
        m.params[1].off == 3136, "param fields differ from the sample");
  const char *d = dlrt_train_get(&m, "data"), *e = dlrt_train_get(&m, "empty");
  check("manifest_train_values", d && strcmp(d, "idx(\"a b.gz\", scale = 1/255)") == 0 &&
        strcmp(dlrt_train_get(&m, "lr"), "0.01") == 0 && e && *e == 0 &&
        !dlrt_train_get(&m, "nope"), "data = '%s'", d ? d : "(null)");
  check("manifest_numel", dlrt_numel(x, 1) == 784 && dlrt_numel(x, 64) == 64 * 784 &&
        dlrt_tensor_bytes(x, 2) == 2 * 784 * 4 && dlrt_numel(W, 7) == 784,
        "numel(x, 1) = %lld", (long long)dlrt_numel(x, 1));
  dlrt_model_free(&m);
}

/* The sample with line `line` (1-based) replaced by `text` (NULL: deleted). */
static char *edit(int line, const char *text) {
  static char out[8192];
  const char *s = sample;
  size_t n = 0;
  for (int l = 1; *s; l++) {
    size_t len = strcspn(s, "\n") + 1;
    if (l != line)
      memcpy(out + n, s, len), n += len;
    else if (text)
      n += (size_t)snprintf(out + n, sizeof out - n, "%s\n", text);
    s += len;
  }
  out[n] = 0;
  return out;
}

typedef struct Bad {
  const char *name;
  int line;            /* line to replace */
  const char *text;    /* replacement; NULL deletes the line */
  int want_line;       /* line the error must name */
  const char *want;    /* substring of the message */
} Bad;

static const Bad bad[] = {
  {"version", 1, "dlc-manifest 2", 1, "unsupported manifest version 2"},
  {"first_line", 1, "model x", 1, "expected 'dlc-manifest 1'"},
  {"unknown_kind", 5, "regio 1 4096 0", 5, "unknown line kind 'regio'"},
  {"bad_signature", 3, "signature xyz", 3, "not 1 to 16 hex digits"},
  {"long_signature", 3, "signature 00000000000000000", 3, "not 1 to 16 hex digits"},
  {"duplicate_model", 3, "model again", 3, "duplicate 'model' line"},
  {"missing_signature", 3, NULL, 3, "missing 'signature' line"},
  {"order", 8, "param Z f32 1 1 1 3200 zeros 0 0 0 0", 9, "'input' line after 'param'"},
  {"duplicate_region", 6, "region 1 10 0", 6, "region 1 is declared twice"},
  {"region_number", 6, "region 99 0 0", 6, "99 is out of range"},
  {"region_negative", 6, "region 2 -5 0", 6, "-5 is out of range"},
  {"region_absurd", 7, "region 3 0 1125899906842625", 7, "out of range"},
  {"region_overflow", 7, "region 3 0 1099511627776", 7, "overflows"},
  {"dtype", 8, "input image f16 data 0 4 -1 1 28 28 3 0", 8, "dtype 'f16'"},
  {"input_kind", 8, "input image f32 dat 0 4 -1 1 28 28 3 0", 8, "want data or label"},
  {"rank", 8, "input image f32 data 0 7 -1 1 28 28 3 0", 8, "rank: 7 is out of range"},
  {"dims_count", 8, "input image f32 data 0 4 -1 1 28 3 0", 8, "has 11 fields, want 12"},
  {"dim_not_integer", 8, "input image f32 data 0 4 -1 1 2x 28 3 0", 8, "'2x' is not an integer"},
  {"dim_zero", 8, "input image f32 data 0 4 -1 0 28 28 3 0", 8, "dimension 1 of 'image' is 0"},
  {"two_batch_dims", 8, "input image f32 data 0 4 -1 -1 28 28 3 0", 8, "more than one batch"},
  {"classes", 8, "input image f32 data x 4 -1 1 28 28 3 0", 8, "classes: 'x'"},
  {"outside_region", 10, "output probs f32 2 -1 10 3 3190", 10, "does not fit in region 3"},
  {"batch_dim_in_fixed_region", 10, "output probs f32 2 -1 10 2 0", 10, "batch-independent"},
  {"region_none", 10, "output probs f32 2 -1 10 0 0", 10, "region: 0 is out of range"},
  {"param_batch_dim", 11, "param W f32 2 -1 1 1 0 zeros 0 0 0 0", 11, "param 'W' has a batch dimension"},
  {"param_region", 11, "param W f32 2 784 1 3 0 zeros 0 0 0 0", 11, "want 1 (weights)"},
  {"unknown_init", 11, "param W f32 2 784 1 1 0 glorot 0 0 1 1", 11, "unknown init 'glorot'"},
  {"xavier_fans", 11, "param W f32 2 784 1 1 0 xavier_normal 0 0 784 0", 11, "needs fans >= 1"},
  {"nan_init", 11, "param W f32 2 784 1 1 0 normal nan 1 0 0", 11, "'nan' is not a finite number"},
  {"param_outside_weights", 11, "param W f32 2 784 1 1 1000 zeros 0 0 0 0", 11, "does not fit in region 1"},
  {"size_overflow", 11, "param W f32 2 1099511627776 1099511627776 1 0 zeros 0 0 0 0", 11, "overflows"},
  {"param_fields", 11, "param W f32 2 784 1 1 0 zeros 0 0 0", 11, "has 12 fields, want 13"},
  {"param_short", 11, "param W", 11, "too short"},
  {"duplicate_input", 9, "input image i32 label 10 1 -1 3 3136", 9, "duplicate input 'image'"},
  {"long_name", 2, "model aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", 2,
   "longer than 63"},
  {"train_no_key", 13, "train", 13, "'train' line has no key"},
  {"duplicate_train_key", 14, "train lr 1", 14, "duplicate train key 'lr'"},
  {"text_after_missing_end", 16, NULL, 16, "unknown line kind 'anything'"},
  {"end_fields", 16, "end now", 16, "has 2 fields, want 1"},
  {"dlc_fields", 4, "dlc", 4, "has 1 fields, want 2"},
};

static void test_malformed(void) {
  dlrt_model m;
  char err[DLRT_ERR_LEN], name[64], want_line[32];
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    const Bad *b = &bad[i];
    snprintf(name, sizeof name, "manifest_refuses_%s", b->name);
    snprintf(want_line, sizeof want_line, "manifest line %d: ", b->want_line);
    bool ok = !dlrt_manifest_parse(&m, edit(b->line, b->text), err) &&
              strncmp(err, want_line, strlen(want_line)) == 0 && strstr(err, b->want);
    check(name, ok, "line %d '%s': got \"%s\", want \"%s...%s\"", b->line,
          b->text ? b->text : "(deleted)", err, want_line, b->want);
  }
  char big[4000];
  memset(big, 'x', sizeof big - 1);
  big[sizeof big - 1] = 0;
  memcpy(big, "train k ", 8);
  check("manifest_refuses_long_line", !dlrt_manifest_parse(&m, edit(13, big), err) &&
        strstr(err, "manifest line 13: line longer"), "%s", err);
  big[300] = 0;
  check("manifest_refuses_long_train_value",
        !dlrt_manifest_parse(&m, edit(13, big), err) && strstr(err, "longer than 255"),
        "%s", err);
  char cut[sizeof sample];
  snprintf(cut, sizeof cut, "%s", sample);
  strstr(cut, "end\n")[0] = 0;
  check("manifest_refuses_missing_end", !dlrt_manifest_parse(&m, cut, err) &&
        strstr(err, "manifest line 16: missing 'end'"), "%s", err);
  check("manifest_refuses_empty_text", !dlrt_manifest_parse(&m, "", err) &&
        strstr(err, "missing 'end'"), "%s", err);
}

/* Random damage: the parser either accepts or names a line; never
 * crashes (run under ASan/UBSan too). */
static void test_random_damage(void) {
  static const char alphabet[] = " \n\t-0123456789abcdefxyz.e+/=";
  char text[sizeof sample], err[DLRT_ERR_LEN];
  dlrt_rng r;
  dlrt_rng_seed(&r, 3);
  int bad_msg = 0, accepted = 0;
  for (int it = 0; it < 20000; it++) {
    memcpy(text, sample, sizeof sample);
    int edits = 1 + (int)(dlrt_rng_next(&r) % 4);
    for (int e = 0; e < edits; e++)
      text[dlrt_rng_next(&r) % (sizeof sample - 1)] =
        alphabet[dlrt_rng_next(&r) % (sizeof alphabet - 1)];
    dlrt_model m;
    if (dlrt_manifest_parse(&m, text, err)) {
      accepted++;
      dlrt_model_free(&m);
    } else if (strncmp(err, "manifest line ", 14) != 0) {
      bad_msg++;
    }
  }
  check("manifest_random_damage", bad_msg == 0, "%d messages without a line", bad_msg);
  printf("    (%d of 20000 damaged manifests were still valid)\n", accepted);
}

int main(void) {
  t_begin();
  test_sample();
  test_malformed();
  test_random_damage();
  return t_end();
}

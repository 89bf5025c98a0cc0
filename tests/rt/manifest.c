/* manifest.c — tests of the manifest parser: a full sample (three entries,
 * optimiser state, hyper-parameters) parses into the expected model, each
 * kind of malformed line is refused with its line number and reason, and
 * random damage never crashes the parser. */
#include "rt_test.h"

static const char sample[] =
  "dlc-manifest 1\n"                                          /*  1 */
  "model lenet\n"
  "signature 00ff00ff12345678\n"
  "dlc 0.1.0\n"
  "weights 4096\n"                                            /*  5 */
  "state 3200\n"
  "input image f32 data 0 4 -1 1 28 28\n"
  "input y i32 label 10 1 -1\n"
  "param W f32 2 784 1 0 xavier_uniform 0 0 784 1\n"
  "param b f32 1 1 3136 const 0.10000000000000001 0 0 0\n"   /* 10 */
  "state_tensor momentum.W f32 2 784 1 0\n"
  "hyper 0 lr 0.01\n"
  "hyper 1 momentum 0.9\n"
  "entry forward 0 3176\n"
  "in image 3 0\n"                                            /* 15 */
  "out probs f32 2 -1 10 3 3136\n"
  "entry eval 64 3180\n"
  "in image 3 0\n"
  "in y 3 3136\n"
  "out probs f32 2 -1 10 3 3140\n"                            /* 20 */
  "out loss f32 0 2 0\n"
  "entry train 128 3180\n"
  "in image 3 0\n"
  "in y 3 3136\n"
  "out loss f32 0 2 4\n"                                      /* 25 */
  "train lr 0.01\n"
  "train data idx(\"a b.gz\", scale = 1/255)\n"
  "train empty \n"
  "end\n"
  "anything after end is ignored\n";                          /* 30 */

static void test_sample(void) {
  dlrt_model m;
  char err[DLRT_ERR_LEN];
  bool ok = dlrt_manifest_parse(&m, sample, err);
  check("manifest_sample_parses", ok, "%s", err);
  if (!ok)
    return;
  const dlrt_tensor *x = &m.inputs[0], *y = &m.inputs[1], *W = &m.params[0];
  const dlrt_entry *fwd = &m.entry[DLRT_E_FORWARD], *ev = &m.entry[DLRT_E_EVAL];
  const dlrt_entry *tr = &m.entry[DLRT_E_TRAIN];
  check("manifest_header_fields", strcmp(m.name, "lenet") == 0 &&
        m.signature == 0x00ff00ff12345678ull && strcmp(m.dlc_version, "0.1.0") == 0 &&
        m.weight_bytes == 4096 && m.state_bytes == 3200,
        "name %s signature %llx", m.name, (unsigned long long)m.signature);
  check("manifest_inputs", m.ninputs == 2 && x->rank == 4 && x->dim[0] == -1 &&
        x->dim[3] == 28 && !x->label && x->region == DLRT_R_NONE && y->label &&
        y->classes == 10 && y->dtype == DLRT_I32, "inputs differ from the sample");
  check("manifest_entries", fwd->present && ev->present && tr->present &&
        fwd->act_k == 0 && fwd->act_n == 3176 && tr->act_k == 128 &&
        fwd->nin == 1 && fwd->nout == 1 && ev->nin == 2 && ev->nout == 2 &&
        strcmp(fwd->out[0].name, "probs") == 0 && fwd->out[0].off == 3136 &&
        dlrt_entry_input(ev, "y")->off == 3136 && dlrt_entry_input(ev, "y")->label &&
        dlrt_entry_input(ev, "y")->classes == 10 && !dlrt_entry_input(fwd, "y") &&
        dlrt_entry_output(tr, "loss")->off == 4 &&
        dlrt_entry_output(tr, "loss")->region == DLRT_R_ACT, "entries differ from the sample");
  check("manifest_params", strcmp(W->init, "xavier_uniform") == 0 && W->fan_in == 784 &&
        W->fan_out == 1 && W->region == DLRT_R_WEIGHT && m.params[1].init_a == 0.1 &&
        m.params[1].off == 3136, "param fields differ from the sample");
  check("manifest_state_and_hypers", m.nstates == 1 && m.states[0].region == DLRT_R_STATE &&
        strcmp(m.states[0].name, "momentum.W") == 0 && m.nhypers == 2 &&
        dlrt_model_hyper(&m, "momentum")->slot == 1 &&
        dlrt_model_hyper(&m, "lr")->value == 0.01 && !dlrt_model_hyper(&m, "beta1"),
        "state or hypers differ from the sample");
  const char *d = dlrt_train_get(&m, "data"), *e = dlrt_train_get(&m, "empty");
  check("manifest_train_values", d && strcmp(d, "idx(\"a b.gz\", scale = 1/255)") == 0 &&
        strcmp(dlrt_train_get(&m, "lr"), "0.01") == 0 && e && *e == 0 &&
        !dlrt_train_get(&m, "nope"), "data = '%s'", d ? d : "(null)");
  bool set = dlrt_train_set(&m, "lr", "0.5", err) && dlrt_train_set(&m, "new.key", "v", err);
  check("manifest_train_set", set && strcmp(dlrt_train_get(&m, "lr"), "0.5") == 0 &&
        strcmp(dlrt_train_get(&m, "new.key"), "v") == 0 && m.ntrain == 4, "%s", err);
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
  {"unknown_kind", 5, "weight 4096", 5, "unknown line kind 'weight'"},
  {"bad_signature", 3, "signature xyz", 3, "not 1 to 16 hex digits"},
  {"long_signature", 3, "signature 00000000000000000", 3, "not 1 to 16 hex digits"},
  {"duplicate_model", 3, "model again", 3, "duplicate 'model' line"},
  {"missing_signature", 3, NULL, 3, "missing 'signature' line"},
  {"missing_state", 6, NULL, 6, "missing 'state' line before this 'input' line"},
  {"duplicate_weights", 6, "weights 10", 6, "duplicate 'weights' line"},
  {"order", 11, "input z f32 data 0 1 -1", 11, "'input' line after 'param'"},
  {"weights_negative", 5, "weights -5", 5, "-5 is out of range"},
  {"weights_absurd", 5, "weights 1125899906842625", 5, "out of range"},
  {"entry_overflow", 14, "entry forward 0 1099511627776", 14, "overflows"},
  {"dtype", 7, "input image f16 data 0 4 -1 1 28 28", 7, "dtype 'f16'"},
  {"input_kind", 7, "input image f32 dat 0 4 -1 1 28 28", 7, "want data or label"},
  {"rank", 7, "input image f32 data 0 7 -1 1 28 28", 7, "rank: 7 is out of range"},
  {"dims_count", 7, "input image f32 data 0 4 -1 1 28", 7, "has 9 fields, want 10"},
  {"dim_not_integer", 7, "input image f32 data 0 4 -1 1 2x 28", 7, "'2x' is not an integer"},
  {"dim_zero", 7, "input image f32 data 0 4 -1 0 28 28", 7, "dimension 1 of 'image' is 0"},
  {"two_batch_dims", 7, "input image f32 data 0 4 -1 -1 28 28", 7, "more than one batch"},
  {"classes", 7, "input image f32 data x 4 -1 1 28 28", 7, "classes: 'x'"},
  {"duplicate_input", 8, "input image i32 label 10 1 -1", 8, "duplicate input 'image'"},
  {"outside_region", 16, "out probs f32 2 -1 10 3 3150", 16, "does not fit in region 3"},
  {"batch_dim_in_fixed_region", 16, "out probs f32 2 -1 10 2 0", 16, "batch-independent"},
  {"region_none", 16, "out probs f32 2 -1 10 0 0", 16, "region: 0 is out of range"},
  {"param_batch_dim", 9, "param W f32 2 -1 1 0 zeros 0 0 0 0", 9, "param 'W' has a batch dimension"},
  {"unknown_init", 9, "param W f32 2 784 1 0 glorot 0 0 1 1", 9, "unknown init 'glorot'"},
  {"xavier_fans", 9, "param W f32 2 784 1 0 xavier_normal 0 0 784 0", 9, "needs fans >= 1"},
  {"nan_init", 9, "param W f32 2 784 1 0 normal nan 1 0 0", 9, "'nan' is not a finite number"},
  {"param_outside_weights", 9, "param W f32 2 784 1 1000 zeros 0 0 0 0", 9, "does not fit in region 1"},
  {"size_overflow", 9, "param W f32 2 1099511627776 1099511627776 0 zeros 0 0 0 0", 9, "overflows"},
  {"param_fields", 9, "param W f32 2 784 1 0 zeros 0 0 0", 9, "has 11 fields, want 12"},
  {"param_short", 9, "param W", 9, "too short"},
  {"state_outside", 11, "state_tensor momentum.W f32 2 784 1 100", 11, "does not fit in region 4"},
  {"state_batch_dim", 11, "state_tensor m f32 1 -1 0", 11, "state tensor 'm' has a batch dimension"},
  {"state_fields", 11, "state_tensor m f32 1 4", 11, "has 5 fields, want 6"},
  {"hyper_unknown", 12, "hyper 0 learning_rate 0.01", 12, "unknown hyper-parameter 'learning_rate'"},
  {"hyper_slot", 12, "hyper 16 lr 0.01", 12, "hyper slot: 16 is out of range"},
  {"hyper_duplicate", 13, "hyper 0 momentum 0.9", 13, "duplicate hyper slot 0"},
  {"hyper_nan", 12, "hyper 0 lr nan", 12, "'nan' is not a finite number"},
  {"hyper_fields", 12, "hyper 0 lr", 12, "has 3 fields, want 4"},
  {"entry_kind", 17, "entry predict 64 3180", 17, "entry kind 'predict'"},
  {"duplicate_entry", 17, "entry forward 64 3180", 17, "duplicate entry 'forward'"},
  {"in_not_an_input", 15, "in label 3 0", 15, "'in' names 'label', which is not an input"},
  {"in_outside_region", 15, "in image 3 100", 15, "does not fit in region 3"},
  {"duplicate_in", 19, "in image 3 0", 19, "duplicate 'in' of this entry for input 'image'"},
  {"in_outside_entry", 13, "in image 3 0", 13, "'in' line outside an entry block"},
  {"in_after_out", 21, "in y 3 3136", 21, "'in' line after 'out' lines"},
  {"eval_without_loss", 21, NULL, 21, "entry eval has no scalar output 'loss'"},
  {"train_without_loss", 25, NULL, 25, "entry train has no scalar output 'loss'"},
  {"loss_not_scalar", 21, "out loss f32 1 1 2 0", 22, "entry eval has no scalar output 'loss'"},
  {"duplicate_output", 21, "out probs f32 0 2 0", 21, "duplicate output 'probs'"},
  {"long_name", 2, "model aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", 2,
   "longer than 63"},
  {"train_no_key", 26, "train", 26, "'train' line has no key"},
  {"duplicate_train_key", 27, "train lr 1", 27, "duplicate train key 'lr'"},
  {"entry_after_train", 27, "entry eval 0 0", 27, "'entry' line after 'train'"},
  {"text_after_missing_end", 29, NULL, 29, "unknown line kind 'anything'"},
  {"end_fields", 29, "end now", 29, "has 2 fields, want 1"},
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
  check("manifest_refuses_long_line", !dlrt_manifest_parse(&m, edit(26, big), err) &&
        strstr(err, "manifest line 26: line longer"), "%s", err);
  big[300] = 0;
  check("manifest_refuses_long_train_value",
        !dlrt_manifest_parse(&m, edit(26, big), err) && strstr(err, "longer than 255"),
        "%s", err);
  char cut[sizeof sample];
  snprintf(cut, sizeof cut, "%s", sample);
  strstr(cut, "end\n")[0] = 0;
  check("manifest_refuses_missing_end", !dlrt_manifest_parse(&m, cut, err) &&
        strstr(err, "manifest line 29: missing 'end'"), "%s", err);
  static const char no_forward[] =
    "dlc-manifest 1\nmodel m\nsignature 1\ndlc 0\nweights 0\nstate 0\n"
    "entry eval 64 0\nout loss f32 0 2 0\nend\n";
  check("manifest_refuses_missing_forward", !dlrt_manifest_parse(&m, no_forward, err) &&
        strstr(err, "manifest line 9: no 'entry forward' block"), "%s", err);
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

/* decode.c — tests of greedy decoding (runtime/decode.c): the decode key
 * of a manifest is read and checked, the feed moves to the end of the
 * inputs, teacher forcing fills the feed from the target, and decoding
 * with a hand-written forward entry gives the tokens worked out by hand,
 * stopping as soon as every sequence has ended. */
#include "rt_test.h"

/* Inputs src [N, 3], prev [N, 4] (the feed), y [N, 4]; the forward entry
 * leaves logits [N, 4, 5]. */
#define HEAD                                   \
  "dlc-manifest 1\n"                           \
  "model dec\n"                                \
  "signature 0000000000000001\n"               \
  "dlc 0.1.0\n"                                \
  "weights 0\n"                                \
  "state 0\n"                                  \
  "input src i32 data 0 2 -1 3\n"              \
  "input prev i32 data 0 2 -1 4\n"             \
  "input y i32 label 5 2 -1 4\n"               \
  "entry forward 0 108\n"                      \
  "in src 3 0\n"                               \
  "in prev 3 12\n"                             \
  "out logits f32 3 -1 4 5 3 28\n"             \
  "entry eval 64 124\n"                        \
  "in src 3 0\n"                               \
  "in prev 3 12\n"                             \
  "in y 3 28\n"                                \
  "out logits f32 3 -1 4 5 3 44\n"             \
  "out loss f32 0 2 0\n"

static const char good[] = HEAD
  "train decode greedy(output=answer, logits=logits, feed=prev, target=y, start=1, end=4)\n"
  "end\n";

static const dlrt_model *fake_m;
static int calls;

/* The next token is (feed + src[0]) mod 5, scored 1 against 0. */
static void fake_forward(const dlrt_frame *f) {
  const dlrt_entry *e = &fake_m->entry[DLRT_E_FORWARD];
  const int32_t *src = dlrt_tensor_addr(f, dlrt_entry_input(e, "src"));
  const int32_t *feed = dlrt_tensor_addr(f, dlrt_entry_input(e, "prev"));
  float *lg = dlrt_tensor_addr(f, dlrt_entry_output(e, "logits"));
  calls++;
  for (int64_t n = 0; n < f->N; n++)
    for (int t = 0; t < 4; t++)
      for (int v = 0; v < 5; v++)
        lg[(n * 4 + t) * 5 + v] = v == (feed[n * 4 + t] + src[n * 3]) % 5;
}

static void test_parse(void) {
  dlrt_model m;
  char err[DLRT_ERR_LEN];
  bool ok = dlrt_manifest_parse(&m, good, err);
  check("decode_parses", ok, "%s", err);
  if (!ok)
    return;
  const dlrt_decode *d = &m.decode;
  check("decode_fields", d->present && d->T == 4 && d->V == 5 && d->start == 1 &&
        d->end == 4 && !strcmp(d->feed, "prev") && !strcmp(d->target, "y") &&
        !strcmp(d->answer.name, "answer") && d->answer.dtype == DLRT_I32 &&
        d->answer.dim[0] == -1 && d->answer.dim[1] == 4, "T %lld V %lld start %d end %d",
        (long long)d->T, (long long)d->V, d->start, d->end);
  check("decode_feed_last", m.ninputs == 3 && !strcmp(m.inputs[0].name, "src") &&
        !strcmp(m.inputs[1].name, "y") && !strcmp(m.inputs[2].name, "prev"),
        "inputs %s %s %s", m.inputs[0].name, m.inputs[1].name, m.inputs[2].name);
  dlrt_model_free(&m);
}

static void test_refused(void) {
  static const char *const bad[] = {
    "beam(output=a, logits=logits, feed=prev, target=y, start=1)",
    "greedy(output=a, logits=logits, feed=prev, start=1)",
    "greedy(output=a, logits=nope, feed=prev, target=y, start=1)",
    "greedy(output=a, logits=logits, feed=src, target=y, start=1)",
    "greedy(output=a, logits=logits, feed=prev, target=prev, start=1)",
    "greedy(output=a, logits=logits, feed=y, target=prev, start=1)",
    "greedy(output=a, logits=logits, feed=prev, target=y, start=5)",
    "greedy(output=a, logits=logits, feed=prev, target=y, start=1, end=-1)",
    "greedy(output=a, logits=logits, feed=prev, target=y, start=1.5)",
    "greedy(output=a, logits=logits, feed=prev, target=y",
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    char text[2048], err[DLRT_ERR_LEN] = "", name[64];
    dlrt_model m;
    snprintf(text, sizeof text, HEAD "train decode %s\nend\n", bad[i]);
    snprintf(name, sizeof name, "decode_refused_%zu", i + 1);
    bool ok = dlrt_manifest_parse(&m, text, err);
    check(name, !ok && err[0], "accepted '%s'", bad[i]);
    if (ok)
      dlrt_model_free(&m);
  }
}

static void test_run(void) {
  dlrt_model m;
  dlrt_frame f;
  char err[DLRT_ERR_LEN];
  if (!dlrt_manifest_parse(&m, good, err) || !dlrt_frame_alloc(&f, &m, 2, err)) {
    check("decode_run_setup", false, "%s", err);
    return;
  }
  fake_m = &m;
  const dlrt_entry *ev = &m.entry[DLRT_E_EVAL], *fwd = &m.entry[DLRT_E_FORWARD];
  /* teacher forcing: prev = START, y[0..2] */
  dlrt_frame_enter(&f, &m, DLRT_E_EVAL, 2);
  int32_t *y = dlrt_tensor_addr(&f, dlrt_entry_input(ev, "y"));
  int32_t *prev = dlrt_tensor_addr(&f, dlrt_entry_input(ev, "prev"));
  for (int i = 0; i < 8; i++) y[i] = i % 5;
  dlrt_decode_teacher(&f, ev, &m);
  check("decode_teacher", prev[0] == 1 && prev[1] == 0 && prev[2] == 1 && prev[3] == 2 &&
        prev[4] == 1 && prev[5] == 4 && prev[6] == 0 && prev[7] == 1,
        "prev %d %d %d %d / %d %d %d %d", prev[0], prev[1], prev[2], prev[3], prev[4],
        prev[5], prev[6], prev[7]);
  /* sample 0 (src 1): 2 3 4, then END; sample 1 (src 2): 3 0 2 4 */
  int32_t answer[8];
  dlrt_frame_enter(&f, &m, DLRT_E_FORWARD, 1);
  int32_t *src = dlrt_tensor_addr(&f, dlrt_entry_input(fwd, "src"));
  src[0] = 1;
  calls = 0;
  dlrt_decode_run(&f, &m, fake_forward, answer);
  check("decode_stops_early", calls == 3 && answer[0] == 2 && answer[1] == 3 &&
        answer[2] == 4 && answer[3] == 4, "%d calls, answer %d %d %d %d", calls,
        answer[0], answer[1], answer[2], answer[3]);
  dlrt_frame_enter(&f, &m, DLRT_E_FORWARD, 2);
  src = dlrt_tensor_addr(&f, dlrt_entry_input(fwd, "src"));
  src[0] = 1, src[3] = 2;
  calls = 0;
  dlrt_decode_run(&f, &m, fake_forward, answer);
  static const int32_t want[8] = {2, 3, 4, 4, 3, 0, 2, 4};
  check("decode_batch", calls == 4 && memcmp(answer, want, sizeof want) == 0,
        "%d calls, answer %d %d %d %d / %d %d %d %d", calls, answer[0], answer[1],
        answer[2], answer[3], answer[4], answer[5], answer[6], answer[7]);
  dlrt_decode_score s = {0};
  static const int32_t target[8] = {2, 3, 4, 4, 3, 1, 2, 4};
  dlrt_decode_count(&s, &m, answer, target, 2);
  check("decode_count", s.n == 2 && s.exact == 1 && s.tokens == 7 && s.tokens_right == 6,
        "n %lld exact %lld tokens %lld/%lld", (long long)s.n, (long long)s.exact,
        (long long)s.tokens_right, (long long)s.tokens);
  dlrt_frame_free(&f);
  dlrt_model_free(&m);
}

int main(void) {
  t_begin();
  test_parse();
  test_refused();
  test_run();
  return t_end();
}

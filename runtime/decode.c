/* decode.c — greedy decoding: a model trained with teacher forcing writes
 * its own answer, one position at a time.
 *
 * The one idea: the forward entry computes the logits [N, T, V] of every
 * position from the decoder's input tokens, the feed [N, T]; in a causal
 * decoder the logits at t depend on the feed at positions <= t only. So
 * greedy decoding is T calls of the same entry on the whole batch:
 *
 *     feed = START ? ? ? ...      call 1: answer[0] = argmax logits[0]
 *     feed = START a0 ? ? ...     call 2: answer[1] = argmax logits[1]
 *     ...                         (a sequence that wrote END keeps END)
 *
 * stopping early once every sequence of the batch has written END. In
 * training and evaluation the feed is instead the target shifted right
 * behind START (teacher forcing), filled here from the target each batch,
 * so a data set holds only the encoder's input and the target.
 *
 * The model's `decode` statement reaches the runtime as the train key
 * "decode" (frontend/decode.c writes it, checked):
 *
 *     greedy(output=answer, logits=logits, feed=prev, target=y, start=10, end=11)
 *
 * dlrt_decode_parse reads it when the manifest is loaded, checks it
 * against the model again (a manifest is input like any other), and moves
 * the feed to the end of the model's inputs: the data sets then feed the
 * model's first two inputs, the encoder's input and the target, as for any
 * other model.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "dlrt.h"

/* Input called name, or NULL. */
static dlrt_tensor *model_input(dlrt_model *m, const char *name) {
  for (int i = 0; i < m->ninputs; i++)
    if (strcmp(m->inputs[i].name, name) == 0)
      return &m->inputs[i];
  return NULL;
}

/* Copy argument key of c into dst (cap bytes); false when absent. */
static bool name_arg(const dlrt_call *c, const char *key, char *dst, size_t cap) {
  const char *v = dlrt_call_arg(c, key, -1);
  if (!v || !*v || strlen(v) >= cap)
    return false;
  memcpy(dst, v, strlen(v) + 1);
  return true;
}

/* A token argument: a whole number in [0, V); absent: -1 when optional. */
static bool token_arg(const dlrt_call *c, const char *key, int64_t V, bool optional,
                      int32_t *out) {
  const char *v = dlrt_call_arg(c, key, -1);
  double x;
  *out = -1;
  if (!v)
    return optional;
  if (!dlrt_parse_number(v, &x) || x < 0 || x >= (double)V || x != (double)(int64_t)x)
    return false;
  *out = (int32_t)x;
  return true;
}

/* feed and target: inputs i32 [N, T]. */
static bool token_input(const dlrt_tensor *t, int64_t T) {
  return t && t->dtype == DLRT_I32 && t->rank == 2 && t->dim[0] == -1 && t->dim[1] == T;
}

bool dlrt_decode_parse(dlrt_model *m, char *err) {
  dlrt_decode *d = &m->decode;
  const char *text = dlrt_train_get(m, "decode");
  dlrt_call c;
  memset(d, 0, sizeof *d);
  if (!text)
    return true;
  if (!dlrt_call_parse(&c, text, err))
    return false;
  if (strcmp(c.name, "greedy") != 0 || !name_arg(&c, "output", d->output, sizeof d->output) ||
      !name_arg(&c, "logits", d->logits, sizeof d->logits) ||
      !name_arg(&c, "feed", d->feed, sizeof d->feed) ||
      !name_arg(&c, "target", d->target, sizeof d->target))
    return dlrt_fail(err, "decode: '%s' is not greedy(output=, logits=, feed=, target=, "
                     "start=[, end=])", text);
  const dlrt_entry *fwd = &m->entry[DLRT_E_FORWARD];
  const dlrt_tensor *lg = dlrt_entry_output(fwd, d->logits);
  if (!lg || lg->dtype != DLRT_F32 || lg->rank != 3 || lg->dim[0] != -1)
    return dlrt_fail(err, "decode: the forward entry has no output '%s' f32 [N, T, V]",
                     d->logits);
  d->T = lg->dim[1];
  d->V = lg->dim[2];
  dlrt_tensor *feed = model_input(m, d->feed);
  if (!token_input(feed, d->T) || !token_input(model_input(m, d->target), d->T) ||
      !strcmp(d->feed, d->target) || !dlrt_entry_input(fwd, d->feed))
    return dlrt_fail(err, "decode: feed '%s' and target '%s' must be two inputs i32 "
                     "[N, %" PRId64 "], the feed read by the forward entry", d->feed,
                     d->target, d->T);
  if (!token_arg(&c, "start", d->V, false, &d->start) ||
      !token_arg(&c, "end", d->V, true, &d->end))
    return dlrt_fail(err, "decode: start and end must be tokens 0..%" PRId64, d->V - 1);
  /* the feed goes last: the data sets feed the first two inputs */
  dlrt_tensor t = *feed;
  memmove(feed, feed + 1, sizeof t * (size_t)(m->inputs + m->ninputs - feed - 1));
  m->inputs[m->ninputs - 1] = t;
  d->answer = (dlrt_tensor){.dtype = DLRT_I32, .rank = 2, .dim = {-1, d->T}};
  snprintf(d->answer.name, sizeof d->answer.name, "%s", d->output);
  d->present = true;
  return true;
}

void dlrt_decode_teacher(dlrt_frame *f, const dlrt_entry *e, const dlrt_model *m) {
  const dlrt_decode *d = &m->decode;
  const dlrt_tensor *ft = d->present ? dlrt_entry_input(e, d->feed) : NULL;
  const dlrt_tensor *yt = d->present ? dlrt_entry_input(e, d->target) : NULL;
  if (!ft || !yt)
    return;
  int32_t *feed = dlrt_tensor_addr(f, ft);
  const int32_t *y = dlrt_tensor_addr(f, yt);
  for (int64_t i = 0; i < f->N; i++) {
    feed[i * d->T] = d->start;
    memcpy(feed + i * d->T + 1, y + i * d->T, sizeof *feed * (size_t)(d->T - 1));
  }
}

/* The first largest of n scores. */
static int32_t argmax(const float *v, int64_t n) {
  int32_t k = 0;
  for (int64_t i = 1; i < n; i++)
    if (v[i] > v[k])
      k = (int32_t)i;
  return k;
}

void dlrt_decode_run(dlrt_frame *f, const dlrt_model *m, dlrt_entry_fn forward,
                     int32_t *answer) {
  const dlrt_decode *d = &m->decode;
  const dlrt_entry *e = &m->entry[DLRT_E_FORWARD];
  int32_t *feed = dlrt_tensor_addr(f, dlrt_entry_input(e, d->feed));
  const float *logits = dlrt_tensor_addr(f, dlrt_entry_output(e, d->logits));
  int64_t N = f->N, T = d->T, V = d->V, open = N;
  for (int64_t i = 0; i < N * T; i++)
    feed[i] = d->start;
  for (int64_t i = 0; i < N * T; i++)
    answer[i] = -1;       /* -1: not decoded yet */
  for (int64_t t = 0; t < T && open > 0; t++) {
    forward(f);
    for (int64_t i = 0; i < N; i++) {
      int32_t *a = answer + i * T;
      if (t > 0 && a[t - 1] == d->end && d->end >= 0) {
        a[t] = d->end;    /* ended: pad with END */
        continue;
      }
      a[t] = argmax(logits + (i * T + t) * V, V);
      open -= a[t] == d->end;
      if (t + 1 < T)
        feed[i * T + t + 1] = a[t];
    }
  }
  for (int64_t i = 0; i < N * T; i++)
    if (answer[i] < 0)
      answer[i] = d->end; /* every sequence ended before T */
}

void dlrt_decode_count(dlrt_decode_score *s, const dlrt_model *m, const int32_t *answer,
                       const int32_t *target, int64_t n) {
  int64_t T = m->decode.T;
  for (int64_t i = 0; i < n; i++) {
    bool same = true, counting = true;
    for (int64_t t = 0; t < T; t++) {
      bool eq = answer[i * T + t] == target[i * T + t];
      same = same && eq;
      s->tokens += counting;
      s->tokens_right += counting && eq;
      counting = counting && target[i * T + t] != m->decode.end;
    }
    s->exact += same;
    s->n++;
  }
}

bool dlrt_decode_eval(dlrt_decode_score *s, dlrt_frame *f, const dlrt_model *m,
                      dlrt_entry_fn forward, const dlrt_data *d, int64_t B) {
  const dlrt_entry *e = &m->entry[DLRT_E_FORWARD];
  int64_t T = m->decode.T;
  int32_t *answer = malloc(sizeof *answer * (size_t)(B * T));
  memset(s, 0, sizeof *s);
  if (!answer)
    return false;
  for (int64_t b = 0; b < d->n; b += B) {
    int64_t k = d->n - b < B ? d->n - b : B;
    dlrt_frame_enter(f, m, DLRT_E_FORWARD, k);
    dlrt_data_gather(f, e, m, d, NULL, b, k);
    dlrt_decode_run(f, m, forward, answer);
    dlrt_decode_count(s, m, answer, (const int32_t *)d->y + b * T, k);
  }
  free(answer);
  return true;
}

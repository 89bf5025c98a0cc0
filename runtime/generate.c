/* generate.c — `./model generate`: text sampled from a character model.
 *
 * The one idea: generation asks the forward entry exactly the question
 * training asked. A character model reads a window of T characters,
 * i32[N, T], starting from a zero state, and its output f32[N, T, V]
 * holds at each position the distribution of the next character. So to
 * continue a text, the last T characters (all of them while there are
 * fewer, left-aligned, the rest of the window zeros, which a causal model
 * such as a forward LSTM never reads for an earlier position) go through
 * the forward entry with N = 1, and the next character is drawn from the
 * output at the last filled position; it is appended, and the window
 * slides. That costs a whole window per character rather than one step
 * of a carried state, but the model never sees a context unlike those
 * of training (a training window, too, starts anywhere in the text).
 *
 * The output is read as probabilities when every value at a position lies
 * in [0, 1] and they sum to 1 (a softmax), else as logits; the
 * temperature divides the log-probabilities before they are normalised
 * again. Draws come from one generator seeded with --seed, one uniform
 * number per character, so a seed gives the same text every time.
 */
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "dlrt.h"

typedef struct Gen {
  const dlrt_model *m;
  const dlrt_generate_opts *o;
  const dlrt_tensor *in, *out;   /* the forward entry's i32[N, T] and f32[N, T, V] */
  int64_t T, V;
  dlrt_frame f;
  unsigned char *text;           /* the prime (or a newline), then what is drawn */
  int64_t n;
  double *w;                     /* V weights of the next draw */
} Gen;

/* The forward entry's character input and next-character output; a
 * message when the model has none. */
static bool find_io(Gen *g, char *err) {
  const dlrt_entry *e = &g->m->entry[DLRT_E_FORWARD];
  const dlrt_tensor *x = g->m->ninputs > 0 ? dlrt_entry_input(e, g->m->inputs[0].name) : NULL;
  bool ok = x && x->dtype == DLRT_I32 && x->rank == 2 && x->dim[0] == -1 && x->dim[1] > 0;
  for (int i = 0; ok && i < e->nin; i++)
    ok = &e->in[i] == x || e->in[i].label;
  for (int i = 0; ok && !g->out && i < e->nout; i++) {
    const dlrt_tensor *o = &e->out[i];
    if (o->dtype == DLRT_F32 && o->rank == 3 && o->dim[0] == -1 && o->dim[1] == x->dim[1] &&
        o->dim[2] >= 2 && o->dim[2] <= 256)
      g->out = o;
  }
  if (!ok || !g->out)
    return dlrt_fail(err, "generate: model '%s' is not a character model: it needs "
                     "one data input i32[N, T] (characters) and an output f32[N, T, V] "
                     "(the next character's probabilities or logits, V <= 256)",
                     g->m->name);
  g->in = x;
  g->T = x->dim[1];
  g->V = g->out->dim[2];
  return true;
}

/* The prime's bytes (a newline when it is empty: text starting after a
 * line break), each a character of the model. */
static bool set_prime(Gen *g, char *err) {
  const char *p = g->o->prime ? g->o->prime : "";
  size_t len = strlen(p);
  g->text = malloc(len + (size_t)g->o->length + 2);
  if (!g->text)
    return dlrt_fail(err, "generate: out of memory for %" PRId64 " characters",
                     g->o->length);
  for (size_t i = 0; i < len; i++)
    if ((unsigned char)p[i] >= g->V)
      return dlrt_fail(err, "generate: --prime: byte %d at offset %zu is not one of "
                       "the model's %" PRId64 " characters (0..%" PRId64 ")",
                       (unsigned char)p[i], i, g->V, g->V - 1);
  memcpy(g->text, len ? p : "\n", len ? len : 1);
  g->n = len ? (int64_t)len : 1;
  return true;
}

/* Run the window ending at the last character; the output row of that
 * character. */
static const float *forward(Gen *g) {
  int64_t w = g->n < g->T ? g->n : g->T;
  int32_t *x = dlrt_tensor_addr(&g->f, g->in);
  for (int64_t i = 0; i < g->T; i++)
    x[i] = i < w ? g->text[g->n - w + i] : 0;
  g->o->forward(&g->f);
  return (const float *)dlrt_tensor_addr(&g->f, g->out) + (w - 1) * g->V;
}

/* Draw the next character from row y with uniform number u. */
static int draw(Gen *g, const float *y, double u) {
  double sum = 0, top = -INFINITY;
  bool probs = true;
  for (int64_t c = 0; c < g->V; c++) {
    probs = probs && y[c] >= 0 && y[c] <= 1;
    sum += y[c];
  }
  probs = probs && fabs(sum - 1) < 1e-3;
  for (int64_t c = 0; c < g->V; c++) {
    g->w[c] = (probs ? log(y[c]) : y[c]) / g->o->temperature;
    top = isnan(g->w[c]) || g->w[c] < top ? top : g->w[c];
  }
  sum = 0;
  for (int64_t c = 0; c < g->V; c++)
    sum += g->w[c] = isnan(g->w[c]) || !isfinite(top) ? 0 : exp(g->w[c] - top);
  if (!(sum > 0))   /* nothing drawable (a NaN output): the first character */
    return 0;
  double r = u * sum;
  for (int64_t c = 0; c < g->V; c++) {
    if (r < g->w[c])
      return (int)c;
    r -= g->w[c];
  }
  for (int64_t c = g->V - 1; c > 0; c--)   /* rounding: the last drawable */
    if (g->w[c] > 0)
      return (int)c;
  return 0;
}

static bool run(Gen *g, dlrt_ckpt *c, char *err) {
  const dlrt_generate_opts *o = g->o;
  if (!find_io(g, err) || !set_prime(g, err))
    return false;
  if (!(g->w = malloc(sizeof *g->w * (size_t)g->V)))
    return dlrt_fail(err, "generate: out of memory");
  if (!dlrt_ckpt_load(o->weights, c, err) || !dlrt_ckpt_check_model(g->m, c, o->weights, err) ||
      !dlrt_frame_alloc(&g->f, g->m, 1, err) ||
      !dlrt_frame_load_weights(&g->f, g->m, c, o->weights, err))
    return false;
  dlrt_frame_enter(&g->f, g->m, DLRT_E_FORWARD, 1);
  dlrt_rng r;
  dlrt_rng_seed(&r, o->seed);
  if (o->prime)
    fputs(o->prime, stdout);
  for (int64_t i = 0; i < o->length; i++) {
    int ch = draw(g, forward(g), dlrt_rng_uniform(&r));
    g->text[g->n++] = (unsigned char)ch;
    putchar(ch);
  }
  return true;
}

int dlrt_generate(const dlrt_model *m, const dlrt_generate_opts *o) {
  Gen g = {.m = m, .o = o};
  dlrt_ckpt c = {0};
  char err[DLRT_ERR_LEN];
  dlrt_pool_init((int)o->threads);
  bool ok = run(&g, &c, err);
  dlrt_pool_shutdown();
  fflush(stdout);
  if (!ok)
    fprintf(stderr, "error: %s\n", err);
  dlrt_frame_free(&g.f);
  dlrt_ckpt_free(&c);
  free(g.text);
  free(g.w);
  return ok ? 0 : 1;
}

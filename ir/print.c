/* print.c — the IR text format, writing side (doc/ir.txt specifies it).
 *
 * The one idea: a graph prints as one line per node, output and train entry,
 * in a form that parse.c reads back exactly, so print(parse(print(g))) is
 * byte-identical to print(g). Operator attributes print generically from the
 * ints/floats columns of ops.def, so a new op needs no code here; only the
 * sources (input, param, const, state, hyper) have forms of their own.
 */
#include "ir.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Split one spec column ("keepdims:1,axes:*" or "alpha") into fields. A
 * field without ":count" (the floats column) has count 1. */
static int split_spec(const char *spec, AttrField *f, int max) {
  int n = 0;
  for (const char *p = spec; *p && n < max;) {
    const char *end = strchr(p, ',');
    if (!end) end = p + strlen(p);
    const char *colon = memchr(p, ':', (size_t)(end - p));
    const char *name_end = colon ? colon : end;
    if ((size_t)(name_end - p) >= sizeof f[n].name)
      die("attribute name too long in spec '%s'", spec);
    memcpy(f[n].name, p, (size_t)(name_end - p));
    f[n].name[name_end - p] = 0;
    f[n].count = !colon ? 1 : colon[1] == '*' ? -1 : atoi(colon + 1);
    n++;
    p = *end ? end + 1 : end;
  }
  return n;
}

int ir_attr_fields(Op op, bool floats, AttrField *f) {
  if (floats) return split_spec(op_info[op].floats, f, MAX_FLOATS);
  return split_spec(op_info[op].ints, f, MAX_INTS);
}

void ir_fmt_double(char *buf, size_t n, double v) {
  if (isnan(v)) {
    snprintf(buf, n, "nan");
    return;
  }
  if (isinf(v)) {
    snprintf(buf, n, v < 0 ? "-inf" : "inf");
    return;
  }
  snprintf(buf, n, "%.15g", v);
  if (strtod(buf, NULL) != v) snprintf(buf, n, "%.17g", v);
}

static void put_double(Str *b, double v) {
  char buf[40];
  ir_fmt_double(buf, sizeof buf, v);
  str_printf(b, "%s", buf);
}

/* A quoted string with C escapes. Bytes that are not printable ASCII and
 * not one of the named escapes print as \xHH; bytes >= 0x80 print as they
 * are, so UTF-8 names stay readable. */
static void put_string(Str *b, const char *s) {
  str_putc(b, '"');
  for (const unsigned char *p = (const unsigned char *)(s ? s : ""); *p; p++) {
    switch (*p) {
    case '"': str_printf(b, "\\\""); break;
    case '\\': str_printf(b, "\\\\"); break;
    case '\n': str_printf(b, "\\n"); break;
    case '\t': str_printf(b, "\\t"); break;
    case '\r': str_printf(b, "\\r"); break;
    default:
      if (*p < 0x20 || *p == 0x7f)
        str_printf(b, "\\x%02x", *p);
      else
        str_putc(b, (char)*p);
    }
  }
  str_putc(b, '"');
}

static void put_type(Str *b, DType t, const Shape *s) {
  str_printf(b, "%s[", t >= 0 && t < DT_COUNT ? dtype_name[t] : "?");
  for (int i = 0; i < s->rank && i < MAX_RANK; i++) {
    int64_t d = s->d[i];
    const char *sep = i ? "," : "";
    if (d == -1)
      str_printf(b, "%sN", sep);
    else if (d < 0)
      str_printf(b, "%s%lldN", sep, (long long)-d);
    else
      str_printf(b, "%s%lld", sep, (long long)d);
  }
  str_putc(b, ']');
}

static void put_loc(Str *b, Loc loc) {
  if (loc.line == 0) return;
  str_printf(b, " @");
  put_string(b, loc.file);
  str_printf(b, ":%d:%d", loc.line, loc.col);
}

/* Values past nints print as 0: a fixed field the builder left unset reads
 * as zero, which is what the shape rules assume too. */
void ir_print_attrs(Str *b, const Node *n) {
  if (op_info[n->op].flags & F_SOURCE) return;
  AttrField f[MAX_INTS];
  int nf = ir_attr_fields(n->op, false, f), pos = 0;
  for (int k = 0; k < nf; k++) {
    int cnt = f[k].count >= 0 ? f[k].count : n->a.nints - pos;
    if (f[k].count == 1) {
      str_printf(b, " %s=%lld", f[k].name,
                 (long long)(pos < n->a.nints ? n->a.ints[pos] : 0));
      pos++;
      continue;
    }
    str_printf(b, " %s=[", f[k].name);
    for (int j = 0; j < cnt && pos < MAX_INTS; j++, pos++)
      str_printf(b, "%s%lld", j ? "," : "",
                 (long long)(pos < n->a.nints ? n->a.ints[pos] : 0));
    str_putc(b, ']');
  }
  nf = ir_attr_fields(n->op, true, f);
  for (int k = 0; k < nf; k++) {
    str_printf(b, " %s=", f[k].name);
    put_double(b, n->a.f[k]);
  }
}

/* const: "value=v" unless data is given and the fill value is +0, then
 * "data=[...]" when data is given. */
static void put_const(Str *b, const Node *n) {
  bool plus_zero = n->a.f[0] == 0 && !signbit(n->a.f[0]);
  if (!n->data || !plus_zero) {
    str_printf(b, " value=");
    put_double(b, n->a.f[0]);
  }
  if (!n->data) return;
  int64_t cnt = numel_eval(&n->shape, 1);
  str_printf(b, " data=[");
  for (int64_t k = 0; k < cnt; k++) {
    if (k) str_putc(b, ',');
    put_double(b, n->data[k]);
  }
  str_putc(b, ']');
}

static void put_param(Str *b, const Node *n) {
  const Init *in = &n->init;
  str_printf(b, " init=%s a=",
             in->kind >= 0 && in->kind < INIT_COUNT ? init_name[in->kind] : "?");
  put_double(b, in->a);
  str_printf(b, " b=");
  put_double(b, in->b);
  str_printf(b, " fan_in=%lld fan_out=%lld", (long long)in->fan_in,
             (long long)in->fan_out);
}

/* Each source has its own attributes; batch_size has none. */
static void put_source(Str *b, const Node *n) {
  switch (n->op) {
  case OP_CONST:
    put_const(b, n);
    return;
  case OP_INPUT:
    str_putc(b, ' ');
    put_string(b, n->name);
    str_printf(b, " %s", n->ikind == IN_LABEL ? "label" : "data");
    if (n->classes) str_printf(b, " classes=%lld", (long long)n->classes);
    return;
  case OP_PARAM:
    str_putc(b, ' ');
    put_string(b, n->name);
    put_param(b, n);
    return;
  case OP_STATE:
    str_putc(b, ' ');
    put_string(b, n->name);
    return;
  case OP_HYPER: {
    int64_t slot = n->a.nints ? n->a.ints[0] : -1;
    str_putc(b, ' ');
    put_string(b, slot >= 0 && slot < H_COUNT ? hyper_name[slot] : n->name);
    str_printf(b, " slot=%lld", (long long)slot);
    return;
  }
  default:
    return;
  }
}

static void put_node(Str *b, const Node *n, int i) {
  bool known = n->op >= 0 && n->op < OP_COUNT;
  str_printf(b, "%%%d = %s", i, known ? op_info[n->op].name : "?");
  if (known && (op_info[n->op].flags & F_SOURCE)) {
    put_source(b, n);
  } else {
    for (int k = 0; k < n->nin; k++)
      str_printf(b, "%s%%%d", k ? ", " : " ", n->in[k]);
    if (known) ir_print_attrs(b, n);
  }
  str_printf(b, " : ");
  put_type(b, n->dtype, &n->shape);
  put_loc(b, n->loc);
  if (n->into) str_printf(b, "  # into %%%d", n->into); /* fused (passes/fuse.c) */
  str_putc(b, '\n');
}

char *ir_print_str(const Graph *g) {
  Str b = {0};
  str_printf(&b, "# dlc graph IR\nmodel ");
  put_string(&b, g->name);
  str_putc(&b, '\n');
  for (int i = 0; i < g->nnode; i++) put_node(&b, &g->node[i], i);
  for (int o = 0; o < g->nout; o++) {
    str_printf(&b, "output ");
    put_string(&b, g->out[o].name);
    str_printf(&b, " %%%d", g->out[o].node);
    put_loc(&b, g->out[o].loc);
    str_putc(&b, '\n');
  }
  if (g->loss >= 0 && g->loss < g->nnode) {
    str_printf(&b, "loss %%%d", g->loss);
    put_loc(&b, g->node[g->loss].loc);
    str_putc(&b, '\n');
  }
  for (int t = 0; t < g->ntrain; t++) {
    str_printf(&b, "train ");
    put_string(&b, g->train[t].key);
    str_putc(&b, ' ');
    put_string(&b, g->train[t].value);
    put_loc(&b, g->train[t].loc);
    str_putc(&b, '\n');
  }
  return b.s;
}

void ir_print(FILE *f, const Graph *g) {
  char *s = ir_print_str(g);
  fputs(s, f);
  free(s);
}

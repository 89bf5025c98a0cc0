/* dot.c — a Graphviz picture of a graph (`dlc dump --dot`).
 *
 * The one idea: one dot node per IR node, labelled like its line in the text
 * format but shorter ("%6 matmul", the type, compact attributes), with the
 * kinds of node told apart by shape: inputs are inverted houses, params
 * cylinders, consts notes, outputs houses, ops rounded boxes. Edges run
 * from operand to user, labelled with the operand position when an op has
 * more than one. Render with `dot -Tsvg`.
 */
#include "ir.h"

/* s inside a dot double-quoted string: quotes and backslashes escaped,
 * control characters shown as spaces (a dot label has its own escapes). */
static void put_escaped(Str *b, const char *s) {
  for (const unsigned char *p = (const unsigned char *)(s ? s : ""); *p; p++) {
    if (*p == '"' || *p == '\\')
      str_printf(b, "\\%c", *p);
    else
      str_putc(b, *p < 0x20 || *p == 0x7f ? ' ' : (char)*p);
  }
}

static const char *node_shape(Op op) {
  switch (op) {
  case OP_INPUT: return "invhouse";
  case OP_PARAM: return "cylinder";
  case OP_CONST: return "note";
  default: return "box";
  }
}

/* The label, with \n (a dot escape) between lines. */
static void put_label(Str *b, const Node *n, int i) {
  char t[128];
  str_printf(b, "%%%d %s", i, op_info[n->op].name);
  if (n->name) {
    str_printf(b, " \\\"");
    put_escaped(b, n->name);
    str_printf(b, "\\\"");
  }
  if (n->op == OP_CONST && !n->data) {
    char v[40];
    ir_fmt_double(v, sizeof v, n->a.f[0]);
    str_printf(b, " %s", v);
  }
  Str attrs = {0};
  ir_print_attrs(&attrs, n);
  if (attrs.len) {
    str_printf(b, "\\n");
    put_escaped(b, attrs.s + 1);
  }
  str_free(&attrs);
  shape_str(t, sizeof t, n->dtype, &n->shape);
  str_printf(b, "\\n%s", t);
}

static void put_node(Str *b, const Node *n, int i) {
  str_printf(b, "  n%d [shape=%s%s, label=\"", i, node_shape(n->op),
             op_info[n->op].flags & F_SOURCE ? "" : ", style=rounded");
  put_label(b, n, i);
  str_printf(b, "\"");
  if (n->loc.line > 0) {
    str_printf(b, ", tooltip=\"");
    put_escaped(b, n->loc.file);
    str_printf(b, ":%d:%d\"", n->loc.line, n->loc.col);
  }
  str_printf(b, "];\n");
  for (int k = 0; k < n->nin; k++) {
    str_printf(b, "  n%d -> n%d", n->in[k], i);
    if (n->nin > 1) str_printf(b, " [label=\"%d\"]", k);
    str_printf(b, ";\n");
  }
}

void ir_dot(FILE *f, const Graph *g) {
  Str b = {0};
  str_printf(&b, "digraph \"");
  put_escaped(&b, g->name);
  str_printf(&b, "\" {\n  node [fontname=\"monospace\", fontsize=10];\n"
                 "  edge [fontsize=8];\n");
  for (int i = 0; i < g->nnode; i++) put_node(&b, &g->node[i], i);
  for (int o = 0; o < g->nout; o++) {
    str_printf(&b, "  out%d [shape=house, label=\"output \\\"", o);
    put_escaped(&b, g->out[o].name);
    str_printf(&b, "\\\"\"];\n  n%d -> out%d;\n", g->out[o].node, o);
  }
  str_printf(&b, "}\n");
  fputs(b.s, f);
  str_free(&b);
}

/* ir.h — the interface of the ir/ layer: the graph IR and what every layer
 * above it shares (arenas, diagnostics, the operator table, the text format,
 * the reference interpreter).
 *
 * The one idea: a model is a Graph, an array of Nodes in topological order.
 * A node names its operator, its operands (indices of earlier nodes), its
 * attributes, its element type and shape, and the .dlm source position it
 * came from. Passes rewrite the array; nothing points into it except by
 * index.
 *
 * Sections are named after the .c file that defines them.
 */
#ifndef DLC_IR_H
#define DLC_IR_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdnoreturn.h>

#define DLC_VERSION "0.1.0"

/* ---- util.c: arenas, growable strings, fatal errors ---------------------- */

/* A compiler bug: print where, then abort. Never for user mistakes. */
noreturn void die_at(const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
#define die(...) die_at(__FILE__, __LINE__, __VA_ARGS__)
#define ASSERT(c) ((c) ? (void)0 : die("assertion failed: %s", #c))

/* Bump allocator. Memory is zeroed, 16-byte aligned, and freed all at once
 * by arena_free. Allocation failure is fatal. */
typedef struct Arena Arena;
Arena *arena_new(void);
void arena_free(Arena *a);
void *arena_alloc(Arena *a, size_t size);
char *arena_strdup(Arena *a, const char *s);
char *arena_strndup(Arena *a, const char *s, size_t n);
char *arena_printf(Arena *a, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Grow *p (an array of *cap elements of size elem, allocated from a) so it
 * holds at least need elements. Old contents are copied. */
void arena_grow(Arena *a, void **p, int *cap, int need, size_t elem);

/* Growable string; s is always NUL-terminated. Heap-allocated (not arena):
 * release with str_free. */
typedef struct Str {
  char *s;
  size_t len, cap;
} Str;
void str_printf(Str *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void str_vprintf(Str *b, const char *fmt, va_list ap);
void str_putc(Str *b, char c);
void str_free(Str *b);

/* Read a whole file into a NUL-terminated heap buffer; NULL on failure
 * (errno set). *len gets the size without the NUL. */
char *read_file(const char *path, size_t *len);
/* Write data to path atomically (temporary file, fsync, rename). Returns
 * false and sets errno on failure. */
bool write_file_atomic(const char *path, const void *data, size_t len);

/* A process-lifetime copy of s, equal strings sharing one pointer (file
 * names in Locs). */
const char *intern(const char *s);

uint64_t hash_bytes(uint64_t h, const void *p, size_t n); /* FNV-1a 64 */
#define HASH_INIT 0xcbf29ce484222325ull

/* ---- diag.c: user-facing diagnostics ------------------------------------- */

/* A source position: 1-based line and column; file is interned. A Loc with
 * line 0 means "no position". */
typedef struct Loc {
  const char *file;
  int line, col;
} Loc;

/* Register source text so that messages can show the line and a caret. The
 * text must outlive all diagnostics. */
void diag_add_source(const char *file, const char *text);
/* "file:line:col: error: msg", the source line, a caret under col, then any
 * notes added with diag_hint/diag_note. Counts errors. */
void diag_error(Loc loc, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void diag_verror(Loc loc, const char *fmt, va_list ap);
void diag_warning(Loc loc, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* "file:line:col: note: msg" (with caret) after an error. */
void diag_note(Loc loc, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* "hint: msg" after an error, no position. */
void diag_hint(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
int diag_count(void);   /* errors so far */
void diag_reset(void);  /* forget the count (tests) */
/* Stop after this many errors (default 20); 0 means no limit. */
void diag_set_limit(int max_errors);
/* Where diagnostics go (default stderr). */
void diag_set_stream(FILE *f);

/* ---- ir.c: types, shapes, the op table, building graphs ------------------ */

typedef enum DType { DT_F32, DT_I32, DT_COUNT } DType;

enum { MAX_RANK = 6, MAX_INTS = 16, MAX_FLOATS = 2 };

/* Channels per block of the blocked layout (to_blocked, conv2d_blocked:
 * NCHW8c): one AVX2 vector of f32. */
enum { BLOCK_C = 8 };

/* A dimension is static (d > 0) or a multiple of the symbolic batch size N
 * (d < 0 means (-d) * N; -1 is plain N). At most one dimension of a shape is
 * symbolic, so a size is always k or k*N. */
typedef struct Shape {
  int rank;
  int64_t d[MAX_RANK];
} Shape;

/* A size in elements or bytes: k, or k*N when sym. */
typedef struct Size {
  int64_t k;
  bool sym;
} Size;

typedef enum FusionClass {  /* ordered: two combine by taking the larger */
  FC_ELEMWISE,              /* out[i] = f(in[i]) */
  FC_BROADCAST,             /* elementwise after broadcasting operands */
  FC_INJECTIVE,             /* each output element from one input element */
  FC_REDUCE,                /* reduces over axes */
  FC_OUTFUSE,               /* contraction whose output can take an epilogue */
  FC_OPAQUE,                /* cannot be fused */
  FC_COUNT
} FusionClass;

enum {
  F_SOURCE = 1 << 0,   /* input, param or const: no operands, no kernel */
  F_ELEMWISE = 1 << 1, /* elementwise (after broadcasting) */
  F_COMMUT = 1 << 2,   /* operands may be swapped */
  F_ASSOC = 1 << 3,    /* (a op b) op c == a op (b op c), up to rounding */
  F_VIEW = 1 << 4,     /* output aliases the operand's storage */
  F_NOGRAD = 1 << 5,   /* result carries no gradient (labels, masks, sizes) */
  F_EFFECT = 1 << 6,   /* writes storage other than its result: never dead */
};

typedef enum Op {
#define OP(id, ...) OP_##id,
#include "ops.def"
#undef OP
  OP_COUNT
} Op;

/* Attributes; their meaning per op is given by the ints/floats columns of
 * ops.def. For sources see Node.init and Node.name. */
typedef struct Attrs {
  int64_t ints[MAX_INTS];
  int nints;
  double f[MAX_FLOATS];
} Attrs;

typedef enum InitKind {
  INIT_ZEROS, INIT_ONES, INIT_CONST, INIT_UNIFORM, INIT_NORMAL,
  INIT_XAVIER_UNIFORM, INIT_XAVIER_NORMAL, INIT_HE_UNIFORM, INIT_HE_NORMAL,
  INIT_COUNT
} InitKind;

/* How a parameter is initialised. a, b: const value / uniform bounds /
 * normal mean and std. fan_in, fan_out: used by Xavier and He. */
typedef struct Init {
  InitKind kind;
  double a, b;
  int64_t fan_in, fan_out;
} Init;

/* Where a materialised tensor lives in a compiled program (filled by the
 * memory planner, passes/plan.c). */
typedef enum Region {
  R_NONE,     /* not planned, or has no storage of its own */
  R_WEIGHT,   /* parameters: offset in bytes in the weights block */
  R_ACT,      /* batch-independent temporaries: offset in bytes */
  R_ACTN,     /* batch-proportional tensors: offset in bytes per sample,
                 actual offset = off * N */
  R_STATE,    /* optimiser state: offset in bytes in the state block */
  R_TILE,     /* a tensor that lives only inside one sample group
                 (codegen/tile.c): offset in bytes per sample in the
                 group's scratch, one per thread, S samples deep */
  R_COUNT
} Region;

typedef enum InputKind { IN_DATA, IN_LABEL } InputKind;

/* Runtime scalars a training step reads (OP_HYPER's slot attribute): the
 * runtime fills them per step from the train section, the command line and
 * the schedule. */
typedef enum HyperSlot {
  H_LR, H_MOMENTUM, H_BETA1, H_BETA2, H_RHO, H_EPS, H_WEIGHT_DECAY, H_L1, H_L2,
  H_CLIP, H_BC1, H_BC2, H_COUNT
} HyperSlot;

/* One operation. Fields valid for every node unless noted. */
typedef struct Node {
  Op op;
  DType dtype;
  Shape shape;
  int nin;           /* number of operands */
  int *in;           /* operand node indices, each < this node's index */
  Attrs a;           /* op attributes (ops.def ints/floats columns) */
  const char *name;  /* input/param: user-visible name; else NULL */
  Init init;         /* param only */
  InputKind ikind;   /* input only */
  int64_t classes;   /* input with IN_LABEL: class count, 0 if unknown */
  const double *data;/* const only: numel values, or NULL: fill a.f[0] */
  Loc loc;           /* .dlm (or .ir) position this node came from */
  /* Analyses, valid after the pass that fills them: */
  int uses;          /* operand references + output references (ir_fill_uses) */
  int into;          /* passes/fuse.c: the node whose kernel computes this one
                        inline (always a later node), or 0 if none */
  Region region;     /* storage, passes/plan.c */
  int64_t off;       /* bytes (per sample for R_ACTN), passes/plan.c */
} Node;

/* A named result of the model. */
typedef struct Output {
  const char *name;
  int node;
  Loc loc;
} Output;

/* Training setup from the .dlm train section: key = value pairs as written,
 * interpreted by the training code (issue 3). Kept in the graph so that the
 * IR text carries it. */
typedef struct TrainKV {
  const char *key;
  const char *value;   /* canonical text of the value */
  Loc loc;
} TrainKV;

typedef struct Graph {
  Arena *arena;        /* owns nodes, names, operand arrays */
  const char *name;    /* model name */
  int loss;            /* node of the scalar training loss, or -1 */
  Node *node;
  int nnode, capnode;
  Output *out;
  int nout, capout;
  TrainKV *train;
  int ntrain, captrain;
  /* Filled by the memory planner (passes/plan.c): */
  int64_t region_k[R_COUNT];  /* bytes of each region's fixed part */
  int64_t region_n[R_COUNT];  /* bytes per sample of each region */
  int64_t naive_k, naive_n;   /* activation bytes without reuse (stats) */
  /* Filled by the optimiser (passes/optim.c): runtime scalars the graph
   * reads and their defaults from the train section. */
  bool hyper_used[H_COUNT];
  double hyper[H_COUNT];
  /* Set by passes/tile.c: the CPU backend may run chains of per-sample
   * kernels a few samples at a time. */
  bool tile;
} Graph;

typedef struct OpInfo {
  const char *name;
  int nin;             /* -1: variadic, at least one */
  FusionClass fclass;
  unsigned flags;
  const char *ints;    /* attribute spec, see ops.def */
  const char *floats;
} OpInfo;

extern const OpInfo op_info[OP_COUNT];
extern const char *const dtype_name[DT_COUNT];
extern const char *const init_name[INIT_COUNT];
extern const char *const fclass_name[FC_COUNT];
extern const char *const hyper_name[H_COUNT];

/* Op by name, or -1. */
int op_lookup(const char *name);
/* Number of fixed-count int attributes in the spec, and whether a variable
 * list follows. */
int op_fixed_ints(Op op, bool *has_list);

Graph *ir_new_graph(const char *name);
void ir_free_graph(Graph *g);

/* Largest element count of one tensor, per sample for a batch-dependent
 * shape. The IR parser, the frontend and every shape rule refuse larger
 * shapes, so that compile-time sizes (bytes per sample) cannot overflow;
 * the runtime checks the sizes at its batch sizes when it loads the
 * manifest. */
#define MAX_NUMEL ((int64_t)1 << 40)

/* Shape helpers. Dimensions print as numbers, N or kN. shape_numel
 * saturates at INT64_MAX instead of overflowing. */
Size shape_numel(const Shape *s);
/* More than MAX_NUMEL elements (per sample). */
bool shape_too_big(const Shape *s);
Size dtype_bytes(DType t, Size n);
/* The bytes of node n's value (per sample when its shape has N). */
Size node_bytes(const Node *n);
bool shape_equal(const Shape *a, const Shape *b);
Shape shape_make(int rank, const int64_t *d);
void shape_str(char *buf, size_t n, DType t, const Shape *s); /* f32[N,10] */
void dims_str(char *buf, size_t n, const Shape *s);           /* [N,10] */
int64_t dim_eval(int64_t d, int64_t N);                       /* value for N */
int64_t numel_eval(const Shape *s, int64_t N);

/* Add a node. Operands must exist; attributes are copied. The op's shape
 * rule computes dtype and shape; when the operands or attributes are
 * invalid it returns -1 and writes a message (without location) to why,
 * which must be at least 256 bytes. The graph is unchanged on failure. */
int ir_add(Graph *g, Op op, const int *in, int nin, const Attrs *a, Loc loc,
           char *why);
/* Like ir_add but the node's shape is given (reshape, broadcast: the result
 * shape is the attribute). */
int ir_add_shaped(Graph *g, Op op, const int *in, int nin, const Attrs *a,
                  DType t, Shape s, Loc loc, char *why);
int ir_input(Graph *g, const char *name, DType t, Shape s, InputKind kind,
             int64_t classes, Loc loc);
int ir_param(Graph *g, const char *name, DType t, Shape s, Init init, Loc loc);
/* A constant tensor: every element value (data NULL) or numel values. */
int ir_const(Graph *g, DType t, Shape s, double value, const double *data,
             Loc loc);
/* Optimiser state (zero-initialised, like a param) and runtime scalars. */
int ir_state(Graph *g, const char *name, Shape s, Loc loc);
int ir_hyper(Graph *g, HyperSlot slot, Loc loc);
void ir_output(Graph *g, const char *name, int node, Loc loc);
void ir_train_kv(Graph *g, const char *key, const char *value, Loc loc);

/* Recompute shape and dtype of node i from its operands with the op's shape
 * rule; false (message in why) if they are inconsistent. */
bool ir_infer(Graph *g, int i, char *why);

/* Append a copy of node src (from any graph) whose operands are remapped
 * through map (map[old] = new index in g). Returns the new index. */
int ir_copy_node(Graph *g, const Node *src, const int *map);
/* Keep the nodes with keep[i] true, renumbering operands and outputs.
 * Operands of kept nodes must be kept. */
void ir_compact(Graph *g, const bool *keep);
/* Replace every use of node from (operands and outputs) by node to. */
void ir_replace_uses(Graph *g, int from, int to);
void ir_fill_uses(Graph *g);
/* Nodes that must survive dead-code elimination and are never merged:
 * the model's interface (inputs, params, state) and side effects. */
bool ir_is_root(const Node *n);
/* Whether transpose node t is read in place by the matrix products that
 * use it, needing no storage of its own: a transpose of a matrix read only
 * as the left operand of matmuls, or one swapping the last two dimensions
 * read only as the right operand. Every reader of t reads t's operand
 * (planning and codegen agree on this). */
bool ir_read_through(const Graph *g, int t);
/* j, or the node whose storage j views through a chain of views
 * (reshapes: F_VIEW ops). */
int ir_view_root(const Graph *g, int j);
/* A deep copy of g (own arena). */
Graph *ir_clone(const Graph *g);

/* The node of the input, param or output named name, or -1. */
int ir_find_input(const Graph *g, const char *name);
int ir_find_param(const Graph *g, const char *name);
int ir_find_output(const Graph *g, const char *name);

/* A 64-bit signature of the model's interface: inputs, outputs and params
 * (names, dtypes, shapes, order). Checkpoints carry it. */
uint64_t ir_signature(const Graph *g);
/* Parameter count and bytes of the weights. */
int64_t ir_param_count(const Graph *g);

/* The per-step layout of a recurrent layer (lstm, gru, rnn; ops.def), in
 * units of the hidden size H. The input projection xp is [N, T, gates*H]
 * and Whh [H, gates*H]. The forward result is [N, T, state*H], h at
 * columns [h*H, (h+1)*H) of each step. The _grad op's result is [N, T,
 * grad*H]: columns [0, gates*H) the gradient of the step's hidden
 * projection h[t-1] Whh, the last H columns dh. doc/ir.txt gives every
 * column. */
typedef struct Cell {
  Op op, grad_op;
  int gates, state, h, grad;
} Cell;
/* The layout of recurrent op (or its _grad op) op; NULL for other ops. */
const Cell *ir_cell(Op op);

/* ---- verify.c: invariants ------------------------------------------------ */

/* Check the graph's invariants (topological order, operand counts, shapes
 * agree with shape rules, outputs valid, names unique). On failure prints
 * every broken invariant, naming after (the pass just run, or NULL), and
 * returns false. */
bool ir_verify(const Graph *g, const char *after);

/* ---- print.c, parse.c, dot.c: the text format and pictures --------------- */

/* The IR text format (doc/ir.txt). What ir_print writes, ir_parse reads
 * back, and print(parse(print(g))) == print(g). */
void ir_print(FILE *f, const Graph *g);
char *ir_print_str(const Graph *g); /* heap string, caller frees */
/* One field of an op's attribute spec in ops.def: its name and how many
 * values it holds (-1: a variable-length list, always the last field). */
typedef struct AttrField {
  char name[32];
  int count;
} AttrField;
/* Split op's ints spec (floats false; at most MAX_INTS fields) or floats
 * spec (floats true; at most MAX_FLOATS fields, each of count 1) into f.
 * Returns the number of fields. */
int ir_attr_fields(Op op, bool floats, AttrField *f);
/* Append n's ints and floats attributes to b as in the text format, each
 * preceded by a space (" keepdims=0 axes=[1]"); nothing for sources. */
void ir_print_attrs(Str *b, const Node *n);
/* The shortest of %.15g / %.17g that reads back equal with strtod; "nan",
 * "inf", "-inf" for the special values. buf: at least 32 bytes. */
void ir_fmt_double(char *buf, size_t n, double v);
/* Parse IR text; file names the source for diagnostics. Returns NULL after
 * reporting errors with diag_error. */
Graph *ir_parse(const char *file, const char *text);
/* Graphviz picture of the graph. */
void ir_dot(FILE *f, const Graph *g);

/* ---- interp.c: the reference interpreter -------------------------------- */

/* A dense tensor of doubles (any dtype is held as double), row-major. */
typedef struct Tensor {
  DType dtype;
  Shape shape;   /* concrete: no symbolic dimensions */
  int64_t n;     /* element count */
  double *v;     /* heap, n values */
} Tensor;

Tensor tensor_new(DType t, Shape s);  /* zeroed, concrete shape */
void tensor_free(Tensor *t);

/* Evaluate the graph for batch size N. inputs[k] / params[k] give the
 * values of the k-th input / param node in node order (as ir_inputs and
 * ir_params list them). Returns heap values of every node (vals[i] for node
 * i; free with interp_free), or NULL after printing an error. */
Tensor *interp_run(const Graph *g, int64_t N, const Tensor *inputs,
                   const Tensor *params);
void interp_free(const Graph *g, Tensor *vals);
/* Hyper-parameters (H_COUNT values, or NULL for zeros), step and seed seen
 * by hyper and dropout nodes in later runs. Optimiser state reads as zero
 * (the state before the first step); assign nodes evaluate to the value
 * they would write. */
void interp_set_step(const double *hyper, int64_t step, uint64_t seed);
/* Evaluate one node from its operand values (constant folding uses this). */
Tensor interp_node(const Graph *g, int i, const Tensor *operands, int64_t N);

/* Node indices of inputs and params, in node order; *n gets the count.
 * Arrays are allocated from g's arena. */
int *ir_inputs(const Graph *g, int *n);
int *ir_params(const Graph *g, int *n);

#endif

/* frontend.h — the interface of the frontend/ layer: .dlm source text in,
 * a checked Graph out (doc/language.txt is the language).
 *
 * The one idea: parsing builds a plain syntax tree and nothing else; one
 * lowering walk then evaluates it like a tiny interpreter whose "tensor"
 * values are graph nodes. Numbers fold at compile time, blocks are expanded
 * at each call, and a failed expression yields a poison value that every
 * later use accepts silently, so one mistake is reported once.
 *
 * Only the first section is meant for other layers; the rest is shared by
 * the frontend's own files. Sections are named after the file that defines
 * them.
 */
#ifndef DLC_FRONTEND_H
#define DLC_FRONTEND_H

#include "ir.h"

/* ---- lower.c: the layer's interface -------------------------------------- */

/* Parse, check and lower the .dlm file at path into a graph. Every user
 * mistake is reported through diag_error (file:line:col, source line,
 * caret); returns NULL if there was any error. The source text is kept for
 * the life of the process so that later passes can point into it. The
 * caller owns the graph (ir_free_graph). The model is named after the
 * file's base name without ".dlm" unless a `model NAME` statement says
 * otherwise. */
Graph *fe_load(const char *path);
/* The same for source text held in memory; file names it in messages and
 * gives the default model name. The text is copied. */
Graph *fe_load_text(const char *file, const char *text);

/* ---- ast.c: the syntax tree and its builders (frontend-internal) -------- */

typedef enum ExprKind {
  E_NUM,     /* num */
  E_STR,     /* str: the string's value, escapes resolved */
  E_BOOL,    /* num: 0 or 1 */
  E_NAME,    /* str */
  E_CALL,    /* str: callee; args */
  E_LIST,    /* args: the items (never named) */
  E_UNARY,   /* op '-'; lhs */
  E_BINARY,  /* op '+', '-', '*' or '/'; lhs, rhs */
  E_COUNT
} ExprKind;

typedef struct Expr Expr;
typedef struct Arg Arg;

/* An argument of a call, an item of a list, or a block parameter (name and
 * default value). */
struct Arg {
  const char *name;  /* keyword; NULL for a positional argument */
  Expr *e;           /* value; NULL for a block parameter without default */
  Loc loc;           /* the keyword, or the value when positional */
  Loc vloc;          /* the value's first token */
  Arg *next;
  Arg *tail;         /* on a list's first item: its last (a hint that
                        makes appending O(1)); else NULL */
};

struct Expr {
  ExprKind kind;
  Loc loc;           /* operator token for E_UNARY/E_BINARY, callee name
                        for E_CALL, '[' for E_LIST, else the token */
  double num;
  const char *str;
  int op;
  Expr *lhs, *rhs;
  Arg *args;
  int nargs;
  int depth;         /* of the tree: 1 for a leaf (see MAX_EXPR_DEPTH) */
};

/* Deepest expression tree a statement may hold. The walks over a tree
 * (evaluation, folding, printing) recurse, and a chain like 1 + 1 + ... + 1
 * is deep without any bracket (bison bounds bracket nesting itself), so a
 * hostile file could otherwise exhaust the stack. */
enum { MAX_EXPR_DEPTH = 500 };

/* Evaluation recurses through expressions and block expansions, so their
 * nesting is bounded as a whole too: at most MAX_EVAL_DEPTH fe_eval calls
 * and MAX_BLOCK_DEPTH block expansions in progress, with a message (one
 * per block) beyond. */
enum { MAX_EVAL_DEPTH = 1000, MAX_BLOCK_DEPTH = 100 };

/* `f32[N, 28]`: an element type and dimension expressions. */
typedef struct TypeExpr {
  const char *dtype;
  Loc loc;           /* the element type's name */
  Arg *dims;
} TypeExpr;

typedef enum StmtKind {
  S_ERROR,   /* a statement with a syntax error (see Stmt.head) */
  S_INPUT,   /* name: type */
  S_LABEL,   /* name: type [classes e] */
  S_PARAM,   /* name: type [init e] */
  S_ASSIGN,  /* name = e */
  S_OUTPUT,  /* name [= e] */
  S_RETURN,  /* e */
  S_BLOCK,   /* name, params, body */
  S_TRAIN,   /* body: S_ASSIGN items */
  S_MODEL,   /* name */
  S_DECODE,  /* name = e: greedy decoding (decode.c) */
  S_COUNT
} StmtKind;

typedef struct Stmt Stmt;
struct Stmt {
  StmtKind kind;
  Loc loc;           /* the first token */
  const char *name;  /* declared or bound name, or NULL */
  Loc name_loc;
  TypeExpr *type;    /* S_INPUT, S_LABEL, S_PARAM */
  Expr *e;           /* value, classes or init; NULL when omitted */
  Loc vloc;          /* S_ASSIGN: the value's first token (a '(' too) */
  Arg *params;       /* S_BLOCK */
  Stmt *body;        /* S_BLOCK, S_TRAIN */
  Loc end;           /* S_BLOCK, S_TRAIN: the closing '}' */
  StmtKind head;     /* S_ERROR: what the broken statement was declaring
                        (S_ERROR if unknown); name is its name */
  Stmt *next;
};

/* The first tokens of a statement, as the lexer saw them: what a
 * statement lost to a syntax error was declaring. */
typedef struct Head Head;
struct Head {
  Loc loc;           /* the statement's first token */
  int tok[2];        /* its first two token kinds (0: none) */
  const char *text[2];
  int ntok;
  Head *next;        /* the statement before */
};

/* Parser state, shared by the lexer (as its extra data) and the grammar's
 * actions. */
typedef struct Parse {
  Arena *a;          /* the tree and its strings */
  const char *file;  /* interned: Loc.file of every token */
  Stmt *stmts;       /* top-level statements, in order */
  Stmt *last;
  int errors;        /* syntax and lexical errors reported */
  /* Lexer state (lexer.l): */
  int line, col;     /* position of the next character */
  int end_line, end_col; /* just past the last token returned */
  int tok, prev_tok; /* the last two tokens returned, and where the one */
  Loc prev_end;      /* before the last ended */
  bool line_start;   /* no token yet on this line */
  char open[64];     /* open brackets, innermost last */
  Loc open_loc[64];
  int nopen;
  Loc unclosed;      /* bracket abandoned at a statement keyword or EOF */
  char unclosed_c;
  bool at_start;     /* the next token starts a statement */
  int eof_state;     /* 0, then 1 after the final NEWLINE was sent */
  Head *head;        /* the current statement's, newest first */
  Head *err_head;    /* the statement of the last error: a second lexical
                        error in it is not reported */
  const char *text;  /* last token's text, for messages */
} Parse;

Loc fe_loc(const Parse *p, int line, int col);
Expr *fe_num(Parse *p, const char *text, Loc loc);
Expr *fe_str(Parse *p, const char *value, Loc loc);
Expr *fe_bool(Parse *p, bool b, Loc loc);
Expr *fe_name(Parse *p, const char *name, Loc loc);
Expr *fe_call(Parse *p, const char *callee, Loc loc, Arg *args);
Expr *fe_list(Parse *p, Arg *items, Loc loc);
Expr *fe_unary(Parse *p, int op, Expr *e, Loc loc);
Expr *fe_binary(Parse *p, int op, Expr *l, Expr *r, Loc loc);
Arg *fe_arg(Parse *p, const char *name, Expr *e, Loc loc, Loc vloc);
Arg *fe_args_append(Parse *p, Arg *list, Arg *a);
/* Append e as an unnamed item (of a list, or of a shape's dimensions). */
Arg *fe_items_append(Parse *p, Arg *list, Expr *e, Loc loc);
TypeExpr *fe_type(Parse *p, const char *dtype, Loc loc, Arg *dims);

Stmt *fe_input(Parse *p, const char *name, Loc nloc, TypeExpr *t, Loc loc);
Stmt *fe_label(Parse *p, const char *name, Loc nloc, TypeExpr *t,
               Expr *classes, Loc loc);
Stmt *fe_param(Parse *p, const char *name, Loc nloc, TypeExpr *t,
               Expr *init, Loc loc);
Stmt *fe_assign(Parse *p, const char *name, Expr *e, Loc loc, Loc vloc);
Stmt *fe_output(Parse *p, const char *name, Loc nloc, Expr *e, Loc loc);
Stmt *fe_return(Parse *p, Expr *e, Loc loc);
Stmt *fe_block(Parse *p, const char *name, Loc nloc, Arg *params,
               Stmt *body, Loc end, Loc loc);
Stmt *fe_train(Parse *p, Stmt *items, Loc end, Loc loc);
Stmt *fe_model(Parse *p, const char *name, Loc nloc, Loc loc);
Stmt *fe_decode(Parse *p, const char *name, Loc nloc, Expr *e, Loc loc);
/* A statement lost to a syntax error that began at loc; the lexer's record
 * of its first tokens says what it declared, so that later uses of the name
 * do not report a cascade of unknown names. */
Stmt *fe_stmt_error(Parse *p, Loc loc);
Stmt *fe_stmts_append(Parse *p, Stmt *list, Stmt *s);
/* Append a top-level statement (NULL: none) to p->stmts. */
void fe_top(Parse *p, Stmt *s);

/* The canonical text of an expression: re-printed in a normal form with
 * spaces after commas, `k=v` keywords, minimal parentheses, and every
 * number-only subexpression folded. Allocated from a. */
char *fe_expr_str(Arena *a, const Expr *e);
/* The shortest decimal text that reads back as exactly x. */
char *fe_num_str(Arena *a, double x);
/* Fold a number-only expression; false if e is not one. */
bool fe_fold(const Expr *e, double *out);

/* ---- lexer.l, parser.y: text to tree ------------------------------------ */

/* Parse text into p->stmts, reporting syntax errors. Returns false if the
 * parse could not finish (then p->stmts holds what came before). */
bool fe_parse(Parse *p, const char *text);

/* ---- eval.c: values and expressions ------------------------------------ */

typedef enum VKind {
  V_POISON,  /* the result of a failed expression: accepted silently */
  V_TENSOR,  /* node */
  V_NUM,     /* num */
  V_BOOL,    /* num: 0 or 1 */
  V_STR,     /* str */
  V_LIST,    /* item, nitem */
  V_DIM,     /* dim: a multiple of the batch size, -k for k*N */
  V_INIT,    /* init: a parameter initializer */
  V_COUNT
} VKind;

typedef struct Value Value;
struct Value {
  VKind kind;
  Loc loc;           /* where it was written, for messages */
  int node;
  double num;
  int64_t dim;
  const char *str;
  Value *item;
  int nitem;
  Init init;
};

/* A name bound in a scope. */
typedef enum BindKind { B_INPUT, B_PARAM, B_LOCAL, B_COUNT } BindKind;
typedef struct Binding Binding;
struct Binding {
  const char *name;
  BindKind kind;
  Value v;
  Loc loc;           /* where it was (last) bound */
  Binding *next;
};

/* How often each layer or block was called in a scope: names params. */
typedef struct Counter Counter;
struct Counter {
  const char *name;
  int n;
  Counter *next;
};

/* One expansion of a block, or the top level. */
typedef struct Scope Scope;
struct Scope {
  Binding *vars;     /* locals, newest first */
  Counter *counts;
  const char *prefix;/* of parameter names: "" or "res1." or "a2.b1." */
  const char *block; /* the block expanded, NULL at top level */
  Loc call;          /* where it was called */
  Scope *caller;
};

typedef struct BlockDef {
  Stmt *def;         /* S_BLOCK, or S_ERROR for a block lost to a syntax
                        error */
  bool bad;          /* recursive or broken: calls yield poison silently */
  bool checked;      /* its definition was checked */
  int mark;          /* cycle search state */
} BlockDef;

/* A reported error inside a block expansion: the same mistake is not
 * reported again for the next call. */
typedef struct Seen Seen;
struct Seen {
  Loc loc;
  const char *msg;
  Seen *next;
};

typedef struct Lower {
  Graph *g;
  Arena *a;          /* scratch: values, scopes, messages */
  Scope *scope;      /* the current one */
  Scope *top;
  Binding *globals;  /* inputs and top-level params */
  BlockDef *block;
  int nblock, capblock;
  Seen *seen;        /* errors reported inside block expansions */
  Scope *note_scope; /* the expansion in which the last error happened:
                        its "called here" notes are still to be printed */
  Binding *outputs;  /* output names, for duplicate checks */
  const Stmt *model; /* the first model statement and train section */
  const Stmt *train;
  const Stmt *decode;/* the first decode statement */
  int depth;         /* fe_eval calls in progress (MAX_EVAL_DEPTH) */
  int calls;         /* block expansions in progress (MAX_BLOCK_DEPTH) */
  int nsalt;         /* dropout nodes made so far: the next salt is
                        nsalt + 1, so salts are 1, 2, ... in creation
                        order and unique in the graph */
} Lower;

/* The error channel of lowering: diag_error at loc, unless this exact
 * error was already reported from an earlier expansion of the same block
 * (then false and nothing is printed). After an error inside a block the
 * chain of calls is printed as notes before the next diagnostic. */
bool fe_error(Lower *L, Loc loc, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Print pending call-chain notes now. */
void fe_flush_notes(Lower *L);
Value fe_poison(Loc loc);
Value fe_number(double x, Loc loc);
Value fe_tensor(int node, Loc loc);
/* Evaluate e in the current scope. */
Value fe_eval(Lower *L, const Expr *e);
/* Apply a binary operator ('+', '-', '*', '/', or 'M'/'m' for maximum and
 * minimum) to two values; errors are reported at loc. */
Value fe_binop(Lower *L, int op, Value a, Value b, Loc loc);
/* "tensor f32[N,10]", "number 3", ...: a value for messages. */
const char *fe_describe(Lower *L, const Value *v);
/* The candidate closest to name by edit distance, if close enough for a
 * "did you mean" hint; else NULL. */
const char *fe_closest(const char *name, const char *const *cand, int n);
/* Look up a value by name: locals of the scope, then globals, then the
 * batch dimension N and the initializer names. NULL if unbound (the
 * result lives in the scratch arena for built-in names). */
Binding *fe_lookup(Lower *L, const char *name);
/* A node's type as text, f32[N,10]. */
const char *fe_type_str(Lower *L, int node);

/* ---- sig.c: signatures and argument binding ----------------------------- */

/* Argument kinds of signatures; fe_parse_sig spells them as in the
 * comments. */
typedef enum ArgKind {
  A_ANY,      /* any: anything (block parameters) */
  A_TENSOR,   /* tensor */
  A_OPERAND,  /* operand: a tensor or a number */
  A_TENSORS,  /* tensors...: the remaining positional arguments, or one
                 list of tensors */
  A_INT,      /* int: a whole number */
  A_COUNT,    /* count: a positive whole number */
  A_NAT,      /* nat: a whole number >= 0 */
  A_FLOAT,    /* float: a number */
  A_POS,      /* pos: a number > 0 */
  A_NONNEG,   /* nonneg: a number >= 0 */
  A_FRAC,     /* frac: a number in [0, 1) */
  A_BOOL,     /* bool */
  A_STR,      /* string */
  A_INIT,     /* init: an initializer */
  A_INTS,     /* ints: a whole number or a list of them */
  A_FLOATS,   /* floats: a number or a list of numbers */
  A_DIMS,     /* dims: a list of positive whole numbers and k*N */
  A_KIND_COUNT
} ArgKind;

typedef struct ParamSpec {
  const char *name;
  ArgKind kind;
  bool has_def;      /* a default exists */
  bool opt;          /* may be absent ("= none") */
  Value def;         /* built-in default */
  const Expr *def_expr; /* block parameter default, evaluated by the block */
} ParamSpec;

enum { MAX_PARAMS = 16 };

/* A signature: "softmax(x: tensor, axis: int = -1)". */
typedef struct Sig {
  const char *fname;
  const char *what;  /* "function", "block", "optimizer", ... */
  ParamSpec p[MAX_PARAMS];
  int n;
} Sig;

/* An argument after binding to a signature. */
typedef struct ArgVal {
  bool given;        /* written at the call, or defaulted */
  bool dflt;         /* the value is the signature's default */
  Value v;
  Loc loc;           /* where it was written (the call if defaulted) */
} ArgVal;

/* Parse a signature text "x: tensor, axis: int = -1" (a compiler bug if
 * malformed). Defaults are numbers, true, false, none (absent) or an
 * initializer's name. */
void fe_parse_sig(Sig *s, const char *fname, const char *what,
                  const char *text);
/* "softmax(x, axis = -1)", for hints. */
const char *fe_sig_str(Lower *L, const Sig *s);
/* Match a call's evaluated arguments (vals[i]: the i-th written argument)
 * to the signature; fills out[s->n]. Reports too many arguments, unknown
 * or repeated keywords, missing arguments and values of the wrong kind.
 * Returns false after an error or when an argument is poison. */
bool fe_bind(Lower *L, const Sig *s, const Expr *call, const Value *vals,
             ArgVal *out);
/* Check (and normalise: a number for ints or floats becomes a list) v
 * against kind k; what names the value in messages ("argument 'axis' of
 * 'softmax'"). Reports at v->loc and returns false on mismatch. */
bool fe_convert(Lower *L, ArgKind k, const char *what, Value *v);
/* The i-th integer of an A_INTS value. */
int64_t fe_int(const Value *v);

/* ---- builtins.c: built-in functions, layers and initializers ------------ */

/* Call the built-in function named by call; false if there is none. */
bool fe_call_builtin(Lower *L, const Expr *call, const Value *vals,
                     Value *out);
bool fe_is_builtin(const char *name);
/* The initializer named name (xavier, zeros, ...), if it takes no
 * arguments. */
bool fe_init_named(const char *name, Init *out);
/* Names of the initializers, for hints. */
const char *const *fe_init_names(int *n);
/* Names of all built-in functions, for hints; *n gets the count. */
const char *const *fe_builtin_names(Lower *L, int *n);
/* Fill fan_in and fan_out of init from the shape it initialises:
 * [in, out]; [O, I, k...] as fan_in = I*k..., fan_out = O*k...; rank 1
 * and 0: the size. */
void fe_fill_fans(Init *init, const Shape *s);
/* The default initializer for a parameter of shape s: xavier_uniform for
 * rank >= 2, zeros otherwise. */
Init fe_default_init(const Shape *s);
/* Create the parameter scope-prefix + name with fans filled in. Reports a
 * name already taken at loc; returns the node or -1. */
int fe_new_param(Lower *L, const char *name, Shape s, Init init, Loc loc);

/* ---- lower.c: statements and blocks ------------------------------------- */

/* Expand a call of user block b with evaluated arguments (vals[i]: the
 * i-th written argument) in a fresh scope. */
Value fe_call_block(Lower *L, BlockDef *b, const Expr *call,
                    const Value *vals);
BlockDef *fe_find_block(Lower *L, const char *name);
/* Count one more call of the layer or block name in the current scope;
 * returns the count (1 for the first). */
int fe_count_call(Lower *L, const char *name);

/* ---- train.c: the train section ----------------------------------------- */

/* Check the train section and store its keys with ir_train_kv. The loss
 * expression is evaluated in the top-level scope (after every top-level
 * statement, so names mean their final bindings) and g->loss is set to
 * its node, which must be a scalar f32 tensor. */
void fe_lower_train(Lower *L, const Stmt *train);

/* ---- decode.c: the decode statement ------------------------------------- */

/* Check `decode NAME = greedy(...)` against the lowered model (its logits
 * must be an output, its feed and target inputs) and store it as the
 * graph's train key "decode" in the normal form the runtime reads:
 * "greedy(output=NAME, logits=L, feed=F, target=Y, start=S, end=E)". */
void fe_lower_decode(Lower *L, const Stmt *s);

#endif

/* parser.y — the .dlm grammar (doc/language.txt, "Grammar"; nonterminals
 * are named as there). Each action is one call to a builder in ast.c.
 *
 * The one idea: recover at statement level. A syntax error discards tokens
 * up to the end of the statement (the `error terminator` lines), so each
 * broken statement gives exactly one message; the lexer's record of the
 * statement's first tokens lets fe_stmt_error keep the name it declared, so
 * later uses of that name do not cascade. Messages come from
 * yyreport_syntax_error below ("unexpected ')', expecting expression"), and
 * LAC keeps the expected-token lists exact.
 */
%code requires {
#include "frontend.h"
}

%code provides {
int fe_yylex(FE_YYSTYPE *val, Loc *loc, void *scanner);
int fe_yyparse(Parse *p, void *scanner);
}

%code {
#include <string.h>

static void fe_yyerror(const Loc *loc, Parse *p, void *scanner,
                       const char *msg);

/* Locations are Locs: a symbol is where its first token is. */
#define YYLLOC_DEFAULT(cur, rhs, n)                                       \
  do {                                                                    \
    if (n)                                                                \
      (cur) = YYRHSLOC(rhs, 1);                                           \
    else                                                                  \
      (cur) = YYRHSLOC(rhs, 0);                                           \
  } while (0)
}

%define api.prefix {fe_yy}
%define api.pure full
%define api.location.type {Loc}
%define parse.error custom
%define parse.lac full
%locations
%parse-param {Parse *p} {void *scanner}
%lex-param {void *scanner}

%union {
  const char *str;
  Expr *e;
  Arg *arg;
  Stmt *stmt;
  TypeExpr *type;
}

%token <str> NAME "name" NUMBER "number" STRING "string"
%token <str> NEWLINE "end of line"
%token <str> INPUT "'input'" LABEL "'label'" PARAM "'param'"
%token <str> OUTPUT "'output'" BLOCK "'block'" RETURN "'return'"
%token <str> TRAIN "'train'" MODEL "'model'" DECODE "'decode'" INIT "'init'"
%token <str> CLASSES "'classes'" TRUE "'true'" FALSE "'false'"
%token END 0 "end of file"

%left '+' '-'
%left '*' '/'
%precedence UNARY

%type <stmt> stmt input_decl label_decl param_decl assign output_stmt
%type <stmt> return_stmt block_def train_section model_stmt decode_stmt
%type <stmt> body body_lines train_body train_lines train_item
%type <type> type
%type <e> expr primary
%type <arg> args arg_list arg items item_list block_params param_list
%type <arg> block_param
%type <str> kwname

%%

program
  : lines
  ;

/* yyerrok after a recovered line: the next statement's error is its own
   and is reported even if it comes within three tokens. */
lines
  : %empty
  | lines stmt terminator      { fe_top(p, $2); }
  | lines terminator
  | lines error terminator     { fe_top(p, fe_stmt_error(p, @2)); yyerrok; }
  ;

terminator
  : NEWLINE
  | ';'
  ;

stmt
  : input_decl
  | label_decl
  | param_decl
  | assign
  | output_stmt
  | return_stmt
  | block_def
  | train_section
  | model_stmt
  | decode_stmt
  ;

input_decl
  : INPUT NAME ':' type        { $$ = fe_input(p, $2, @2, $4, @1); }
  ;

label_decl
  : LABEL NAME ':' type        { $$ = fe_label(p, $2, @2, $4, NULL, @1); }
  | LABEL NAME ':' type CLASSES expr
                               { $$ = fe_label(p, $2, @2, $4, $6, @1); }
  ;

param_decl
  : PARAM NAME ':' type        { $$ = fe_param(p, $2, @2, $4, NULL, @1); }
  | PARAM NAME ':' type INIT expr
                               { $$ = fe_param(p, $2, @2, $4, $6, @1); }
  ;

type
  : NAME '[' items ']'         { $$ = fe_type(p, $1, @1, $3); }
  ;

assign
  : NAME '=' expr              { $$ = fe_assign(p, $1, $3, @1, @3); }
  ;

output_stmt
  : OUTPUT NAME                { $$ = fe_output(p, $2, @2, NULL, @1); }
  | OUTPUT NAME '=' expr       { $$ = fe_output(p, $2, @2, $4, @1); }
  ;

return_stmt
  : RETURN expr                { $$ = fe_return(p, $2, @1); }
  ;

block_def
  : BLOCK NAME '(' block_params ')' '{' body '}'
                               { $$ = fe_block(p, $2, @2, $4, $7, @8, @1); }
  | BLOCK error '}'            { $$ = fe_stmt_error(p, @1); }
  ;

block_params
  : %empty                     { $$ = NULL; }
  | param_list opt_comma
  ;

param_list
  : block_param                { $$ = fe_args_append(p, NULL, $1); }
  | param_list ',' block_param { $$ = fe_args_append(p, $1, $3); }
  ;

block_param
  : NAME                       { $$ = fe_arg(p, $1, NULL, @1, @1); }
  | NAME '=' expr              { $$ = fe_arg(p, $1, $3, @1, @3); }
  ;

/* The last statement of a body may stand right before the '}'. */
body
  : body_lines
  | body_lines stmt            { $$ = fe_stmts_append(p, $1, $2); }
  ;

body_lines
  : %empty                     { $$ = NULL; }
  | body_lines stmt terminator { $$ = fe_stmts_append(p, $1, $2); }
  | body_lines terminator
  | body_lines error terminator
                               { $$ = fe_stmts_append(p, $1, fe_stmt_error(p, @2)); yyerrok; }
  ;

train_section
  : TRAIN '{' train_body '}'   { $$ = fe_train(p, $3, @4, @1); }
  | TRAIN error '}'            { $$ = fe_stmt_error(p, @1); }
  ;

train_body
  : train_lines
  | train_lines train_item     { $$ = fe_stmts_append(p, $1, $2); }
  ;

train_lines
  : %empty                     { $$ = NULL; }
  | train_lines train_item terminator
                               { $$ = fe_stmts_append(p, $1, $2); }
  | train_lines terminator
  | train_lines error terminator
                               { $$ = fe_stmts_append(p, $1, fe_stmt_error(p, @2)); yyerrok; }
  ;

train_item
  : NAME '=' expr              { $$ = fe_assign(p, $1, $3, @1, @3); }
  ;

model_stmt
  : MODEL NAME                 { $$ = fe_model(p, $2, @2, @1); }
  ;

decode_stmt
  : DECODE NAME '=' expr       { $$ = fe_decode(p, $2, @2, $4, @1); }
  ;

expr
  : expr '+' expr              { $$ = fe_binary(p, '+', $1, $3, @2); }
  | expr '-' expr              { $$ = fe_binary(p, '-', $1, $3, @2); }
  | expr '*' expr              { $$ = fe_binary(p, '*', $1, $3, @2); }
  | expr '/' expr              { $$ = fe_binary(p, '/', $1, $3, @2); }
  | '-' expr %prec UNARY       { $$ = fe_unary(p, '-', $2, @1); }
  | primary
  ;

primary
  : NUMBER                     { $$ = fe_num(p, $1, @1); }
  | STRING                     { $$ = fe_str(p, $1, @1); }
  | TRUE                       { $$ = fe_bool(p, true, @1); }
  | FALSE                      { $$ = fe_bool(p, false, @1); }
  | NAME                       { $$ = fe_name(p, $1, @1); }
  | NAME '(' args ')'          { $$ = fe_call(p, $1, @1, $3); }
  | '[' items ']'              { $$ = fe_list(p, $2, @1); }
  | '(' expr ')'               { $$ = $2; }
  ;

args
  : %empty                     { $$ = NULL; }
  | arg_list opt_comma
  ;

arg_list
  : arg                        { $$ = fe_args_append(p, NULL, $1); }
  | arg_list ',' arg           { $$ = fe_args_append(p, $1, $3); }
  ;

arg
  : expr                       { $$ = fe_arg(p, NULL, $1, @1, @1); }
  | kwname '=' expr            { $$ = fe_arg(p, $1, $3, @1, @3); }
  ;

/* Keywords that are also common argument names. */
kwname
  : NAME
  | INIT
  | CLASSES
  ;

items
  : %empty                     { $$ = NULL; }
  | item_list opt_comma
  ;

item_list
  : expr                       { $$ = fe_items_append(p, NULL, $1, @1); }
  | item_list ',' expr         { $$ = fe_items_append(p, $1, $3, @3); }
  ;

opt_comma
  : %empty
  | ','
  ;

%%

/* ---- syntax error messages ---------------------------------------------- */

static bool is(yysymbol_kind_t s, const char *name) {
  return strcmp(yysymbol_name(s), name) == 0;
}

/* "name 'foo'", "number 3", "')'": the unexpected token. */
static const char *describe(Parse *p, yysymbol_kind_t s) {
  if (s == YYSYMBOL_NAME || s == YYSYMBOL_NUMBER)
    return arena_printf(p->a, "%s '%s'", yysymbol_name(s), p->text);
  if (s >= YYSYMBOL_INPUT && s <= YYSYMBOL_FALSE)
    return arena_printf(p->a, "keyword %s", yysymbol_name(s));
  return yysymbol_name(s);
}

/* Drop the symbols of want[] from set[] (size *n) if all are present or
 * all is false; returns whether all were present. */
static bool drop(yysymbol_kind_t *set, int *n, const char *const *want,
                 int nwant, bool all) {
  int found = 0;
  for (int i = 0; i < *n; i++)
    for (int j = 0; j < nwant; j++)
      found += is(set[i], want[j]);
  bool present = found >= nwant;
  if (all && !present)
    return false;
  int k = 0;
  for (int i = 0; i < *n; i++) {
    bool keep = true;
    for (int j = 0; j < nwant; j++)
      keep = keep && !is(set[i], want[j]);
    if (keep)
      set[k++] = set[i];
  }
  *n = k;
  return present;
}

/* The expected tokens, said briefly: tokens that start an expression
 * become "expression"; after an operand, the tokens that could continue it
 * (operators, a call's '(', a keyword's '=') are left out; and an end of
 * line or file that cuts an expression short is said to expect only the
 * missing closing bracket. */
static void expected_str(Str *b, const yypcontext_t *ctx,
                         yysymbol_kind_t tok) {
  yysymbol_kind_t set[YYNTOKENS];
  int n = yypcontext_expected_tokens(ctx, set, YYNTOKENS);
  static const char *const starts[] = {"name", "number", "string"};
  static const char *const more[] = {"'true'", "'false'", "'('", "'['", "'-'"};
  static const char *const ops[] = {"'+'", "'-'", "'*'", "'/'"};
  static const char *const ends[] = {"';'", "end of file"};
  static const char *const closers[] = {"')'", "']'", "'}'"};
  static const char *const cont[] = {"'('", "'='"};
  bool expr = drop(set, &n, starts, 3, true);
  if (expr)
    drop(set, &n, more, 5, false);
  else if (drop(set, &n, ops, 4, true))
    drop(set, &n, cont, 2, false);
  for (int i = 0; i < n; i++)
    if (set[i] == YYSYMBOL_NEWLINE)
      drop(set, &n, ends, 2, false);
  if (tok == YYSYMBOL_NEWLINE || tok == YYSYMBOL_YYEOF) {
    yysymbol_kind_t close[3];
    int nclose = 0;
    for (int i = 0; i < n; i++)
      for (int j = 0; j < 3; j++)
        if (is(set[i], closers[j]))
          close[nclose++] = set[i];
    if (nclose > 0) {
      memcpy(set, close, sizeof close[0] * (size_t)nclose);
      n = nclose;
      expr = false;
    }
  }
  int total = n + expr;
  if (total == 0 || total > 4)
    return;
  str_printf(b, ", expecting %s", expr ? "expression" : yysymbol_name(set[0]));
  for (int i = !expr; i < n; i++)
    str_printf(b, "%s%s", i + expr == total - 1 ? " or " : ", ",
               yysymbol_name(set[i]));
}

/* An open bracket on an earlier line than the error, or one the lexer
 * gave up on, is the likely culprit: point at it. */
static void note_unclosed(Parse *p, Loc at) {
  Loc open = {0};
  char c = 0;
  if (p->nopen > 0 && p->nopen <= (int)sizeof p->open &&
      p->open[p->nopen - 1] != '{') {
    open = p->open_loc[p->nopen - 1];
    c = p->open[p->nopen - 1];
  } else if (p->unclosed.line > 0) {
    open = p->unclosed;
    c = p->unclosed_c;
  }
  if (open.line > 0 && (open.line < at.line || p->unclosed.line > 0))
    diag_note(open, "to match this '%c'", c);
  p->unclosed.line = 0;
}

/* Hints for slips common enough to recognise from the statement's first
 * tokens. */
static void hint_slip(Parse *p, yysymbol_kind_t tok, Loc loc) {
  const Head *h = p->head;
  if (p->prev_tok == STRING && p->prev_end.line == loc.line &&
      p->prev_end.col == loc.col)
    diag_hint("is the string before it missing its closing '\"'?");
  else if (h && h->ntok == 2 && h->tok[0] == NAME && h->tok[1] == '(' &&
           is(tok, "'('"))
    diag_hint("a call's value must be bound to a name: h = %s(...)",
              h->text[0]);
  else if (h && h->tok[0] == PARAM && is(tok, "'='"))
    diag_hint("an initializer follows 'init': param W: f32[784, 10] init "
              "xavier");
}

static int yyreport_syntax_error(const yypcontext_t *ctx, Parse *p,
                                 void *scanner) {
  (void)scanner;
  yysymbol_kind_t tok = yypcontext_token(ctx);
  Loc loc = *yypcontext_location(ctx);
  p->err_head = p->head;
  Str b = {0};
  str_printf(&b, "unexpected %s", describe(p, tok));
  expected_str(&b, ctx, tok);
  diag_error(loc, "%s", b.s);
  str_free(&b);
  note_unclosed(p, loc);
  hint_slip(p, tok, loc);
  p->errors++;
  return 0;
}

/* Bison's own failure: its stack is exhausted by absurdly deep nesting.
 * Syntax errors go through yyreport_syntax_error. */
static void fe_yyerror(const Loc *loc, Parse *p, void *scanner,
                       const char *msg) {
  (void)scanner;
  diag_error(*loc, "expression nested too deeply (%s)", msg);
  p->errors++;
}

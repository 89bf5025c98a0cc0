/* diag.c — diagnostics for user mistakes, in the style of clang:
 *
 *   mlp.dlm:7:16: error: matmul: inner dimensions differ: f32[N,128] x f32[256,10]
 *   h = matmul(h, W)
 *                ^
 *   hint: ...
 *
 * Sources are registered by name so that any layer can point into them with
 * only a Loc. Compiler bugs do not come here; they go to die().
 */
#include "ir.h"

#include <string.h>

enum { MAX_SOURCES = 64 };

static struct {
  const char *file;
  const char *text;
} sources[MAX_SOURCES];
static int nsources;
static int nerrors;
static int limit = 20;
static FILE *stream;

void diag_add_source(const char *file, const char *text) {
  for (int i = 0; i < nsources; i++)
    if (strcmp(sources[i].file, file) == 0) {
      sources[i].text = text;
      return;
    }
  if (nsources == MAX_SOURCES) return; /* no caret for the rest: harmless */
  sources[nsources].file = file;
  sources[nsources].text = text;
  nsources++;
}

void diag_set_stream(FILE *f) { stream = f; }
static FILE *out(void) { return stream ? stream : stderr; }

/* Print source line loc.line and a caret under loc.col. Tabs in the line are
 * kept in the caret line so the caret lines up in any terminal. */
static void show_line(Loc loc) {
  const char *text = NULL;
  for (int i = 0; i < nsources; i++)
    if (loc.file && strcmp(sources[i].file, loc.file) == 0) text = sources[i].text;
  if (!text || loc.line <= 0) return;
  const char *p = text;
  for (int l = 1; l < loc.line && *p; p++)
    if (*p == '\n') l++;
  const char *e = p;
  while (*e && *e != '\n') e++;
  if (e > p && e[-1] == '\r') e--;
  fprintf(out(), "%.*s\n", (int)(e - p), p);
  for (int c = 1; c < loc.col && p + c - 1 < e; c++)
    fputc(p[c - 1] == '\t' ? '\t' : ' ', out());
  fputs("^\n", out());
}

static void report(Loc loc, const char *kind, const char *fmt, va_list ap) {
  fflush(stdout);
  if (loc.file && loc.line > 0)
    fprintf(out(), "%s:%d:%d: %s: ", loc.file, loc.line, loc.col, kind);
  else if (loc.file)
    fprintf(out(), "%s: %s: ", loc.file, kind);
  else
    fprintf(out(), "dlc: %s: ", kind);
  vfprintf(out(), fmt, ap);
  fputc('\n', out());
  show_line(loc);
}

void diag_verror(Loc loc, const char *fmt, va_list ap) {
  nerrors++;
  if (limit && nerrors > limit) {
    if (nerrors == limit + 1)
      fprintf(out(), "dlc: too many errors, stopping\n");
    return;
  }
  report(loc, "error", fmt, ap);
}

void diag_error(Loc loc, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  diag_verror(loc, fmt, ap);
  va_end(ap);
}

void diag_warning(Loc loc, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  report(loc, "warning", fmt, ap);
  va_end(ap);
}

void diag_note(Loc loc, const char *fmt, ...) {
  if (limit && nerrors > limit) return;
  va_list ap;
  va_start(ap, fmt);
  report(loc, "note", fmt, ap);
  va_end(ap);
}

void diag_hint(const char *fmt, ...) {
  if (limit && nerrors > limit) return;
  va_list ap;
  va_start(ap, fmt);
  fputs("hint: ", out());
  vfprintf(out(), fmt, ap);
  fputc('\n', out());
  va_end(ap);
}

int diag_count(void) { return nerrors; }
void diag_reset(void) { nerrors = 0; }
void diag_set_limit(int max_errors) { limit = max_errors; }

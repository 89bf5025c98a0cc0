/* svg.c — a line chart as a self-contained SVG file (training curves).
 *
 * The one idea: a chart that anyone can open in a browser needs no
 * library: SVG is text, so the whole chart is a few dozen printf calls
 * over a fixed layout. The y range is widened to "nice" ticks (1, 2 or 5
 * times a power of ten) so that the grid lines fall on round numbers; x is
 * the epoch, 1..n. Points that are NaN (a validation loss that was not
 * computed) leave a gap. The file is written next to its final name and
 * renamed over it, so a reader never sees half a chart.
 */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dlrt.h"

enum { WIDTH = 640, HEIGHT = 400, LEFT = 72, RIGHT = 24, TOP = 40, BOTTOM = 56 };

static const char *const colors[] = {"#1f77b4", "#d62728", "#2ca02c", "#ff7f0e",
                                     "#9467bd", "#8c564b"};

typedef struct Axis {
  double lo, hi, step;   /* data range covered, tick spacing */
} Axis;

/* 1, 2 or 5 times a power of ten, at least x (> 0). */
static double nice_step(double x) {
  double p = pow(10, floor(log10(x))), f = x / p;
  return (f <= 1 ? 1 : f <= 2 ? 2 : f <= 5 ? 5 : 10) * p;
}

/* An axis over [lo, hi] with about `ticks` ticks on round numbers. */
static Axis nice_axis(double lo, double hi, int ticks) {
  if (!(hi > lo)) {
    double pad = fabs(lo) > 0 ? fabs(lo) * 0.1 : 0.5;
    lo -= pad;
    hi += pad;
  }
  Axis a = {.step = nice_step((hi - lo) / ticks)};
  a.lo = floor(lo / a.step) * a.step;
  a.hi = ceil(hi / a.step) * a.step;
  return a;
}

static double px(const Axis *a, double v, double from, double to) {
  return from + (v - a->lo) / (a->hi - a->lo) * (to - from);
}

/* Text with the XML special characters escaped. */
static void put_text(FILE *f, const char *s) {
  for (; *s; s++)
    switch (*s) {
    case '<': fputs("&lt;", f); break;
    case '>': fputs("&gt;", f); break;
    case '&': fputs("&amp;", f); break;
    case '"': fputs("&quot;", f); break;
    default: fputc(*s, f);
    }
}

/* A tick label with as many decimals as the tick step needs. */
static void put_tick(FILE *f, double v, double step) {
  int dec = step >= 1 ? 0 : (int)ceil(-log10(step) - 1e-9);
  fprintf(f, "%.*f", dec > 9 ? 9 : dec, fabs(v) < step * 1e-9 ? 0.0 : v);
}

static void put_axes(FILE *f, const Axis *x, const Axis *y, const char *xlabel,
                     const char *ylabel) {
  double x0 = LEFT, x1 = WIDTH - RIGHT, y0 = HEIGHT - BOTTOM, y1 = TOP;
  for (int k = 0; k < 100 && y->lo + k * y->step <= y->hi + y->step * 1e-6; k++) {
    double v = y->lo + k * y->step, p = px(y, v, y0, y1);
    fprintf(f, "<line x1=\"%g\" y1=\"%.2f\" x2=\"%g\" y2=\"%.2f\" stroke=\"#e0e0e0\"/>\n",
            x0, p, x1, p);
    fprintf(f, "<text x=\"%g\" y=\"%.2f\" text-anchor=\"end\">", x0 - 6, p + 4);
    put_tick(f, v, y->step);
    fputs("</text>\n", f);
  }
  for (int k = 0; k < 100 && x->lo + k * x->step <= x->hi + 1e-9; k++) {
    double v = x->lo + k * x->step, p = px(x, v, x0, x1);
    fprintf(f, "<line x1=\"%.2f\" y1=\"%g\" x2=\"%.2f\" y2=\"%g\" stroke=\"#000\"/>\n",
            p, y0, p, y0 + 5);
    fprintf(f, "<text x=\"%.2f\" y=\"%g\" text-anchor=\"middle\">%g</text>\n", p,
            y0 + 19, v);
  }
  fprintf(f, "<polyline points=\"%g,%g %g,%g %g,%g\" fill=\"none\" stroke=\"#000\"/>\n",
          x0, y1, x0, y0, x1, y0);
  fprintf(f, "<text x=\"%g\" y=\"%d\" text-anchor=\"middle\">", (x0 + x1) / 2, HEIGHT - 14);
  put_text(f, xlabel);
  fprintf(f, "</text>\n<text transform=\"translate(18,%g) rotate(-90)\" "
          "text-anchor=\"middle\">", (y0 + y1) / 2);
  put_text(f, ylabel);
  fputs("</text>\n", f);
}

/* One series: polylines between consecutive finite points, a dot on each. */
static void put_series(FILE *f, const dlrt_series *s, const Axis *x,
                       const Axis *y, const char *color) {
  bool open = false;
  for (int i = 0; i <= s->n; i++) {
    bool ok = i < s->n && isfinite(s->y[i]);
    if (!ok && open)
      fputs("\"/>\n", f);
    if (ok && !open)
      fprintf(f, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"2\" points=\"", color);
    if (ok)
      fprintf(f, "%s%.2f,%.2f", open ? " " : "", px(x, i + 1, LEFT, WIDTH - RIGHT),
              px(y, s->y[i], HEIGHT - BOTTOM, TOP));
    open = ok;
  }
  for (int i = 0; i < s->n; i++)
    if (isfinite(s->y[i]))
      fprintf(f, "<circle cx=\"%.2f\" cy=\"%.2f\" r=\"3\" fill=\"%s\"/>\n",
              px(x, i + 1, LEFT, WIDTH - RIGHT), px(y, s->y[i], HEIGHT - BOTTOM, TOP),
              color);
}

static void put_legend(FILE *f, const dlrt_series *s, int ns) {
  int x = WIDTH - RIGHT - 150, y = TOP + 8;
  fprintf(f, "<rect x=\"%d\" y=\"%d\" width=\"144\" height=\"%d\" fill=\"#fff\" "
          "stroke=\"#999\"/>\n", x, y, 8 + 18 * ns);
  for (int i = 0; i < ns; i++) {
    const char *c = colors[i % (int)(sizeof colors / sizeof colors[0])];
    int ly = y + 17 + 18 * i;
    fprintf(f, "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"%s\" "
            "stroke-width=\"2\"/>\n", x + 8, ly - 4, x + 32, ly - 4, c);
    fprintf(f, "<text x=\"%d\" y=\"%d\">", x + 40, ly);
    put_text(f, s[i].name);
    fputs("</text>\n", f);
  }
}

static void put_chart(FILE *f, const char *title, const char *xlabel,
                      const char *ylabel, const dlrt_series *s, int ns) {
  double lo = INFINITY, hi = -INFINITY;
  int n = 1;
  for (int i = 0; i < ns; i++) {
    n = s[i].n > n ? s[i].n : n;
    for (int k = 0; k < s[i].n; k++)
      if (isfinite(s[i].y[k])) {
        lo = fmin(lo, s[i].y[k]);
        hi = fmax(hi, s[i].y[k]);
      }
  }
  if (!isfinite(lo))
    lo = hi = 0;
  Axis y = nice_axis(lo, hi, 6);
  Axis x = {.lo = n > 1 ? 1 : 0, .hi = n > 1 ? n : 2, .step = n > 1 ? ceil(nice_step(n / 10.0)) : 1};
  fprintf(f, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
          "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" "
          "viewBox=\"0 0 %d %d\" font-family=\"sans-serif\" font-size=\"12\">\n"
          "<rect width=\"100%%\" height=\"100%%\" fill=\"#fff\"/>\n"
          "<text x=\"%d\" y=\"24\" text-anchor=\"middle\" font-size=\"15\">",
          WIDTH, HEIGHT, WIDTH, HEIGHT, WIDTH / 2);
  put_text(f, title);
  fputs("</text>\n", f);
  put_axes(f, &x, &y, xlabel, ylabel);
  for (int i = 0; i < ns; i++)
    put_series(f, &s[i], &x, &y, colors[i % (int)(sizeof colors / sizeof colors[0])]);
  put_legend(f, s, ns);
  fputs("</svg>\n", f);
}

/* Contract in dlrt.h. */
bool dlrt_svg_plot(const char *path, const char *title, const char *xlabel,
                   const char *ylabel, const dlrt_series *s, int ns,
                   char *err) {
  char tmp[4200];
  if (snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid()) >= (int)sizeof tmp) {
    snprintf(err, DLRT_ERR_LEN, "%s: path too long", path);
    return false;
  }
  FILE *f = fopen(tmp, "w");
  if (!f) {
    snprintf(err, DLRT_ERR_LEN, "%s: cannot create: %s", tmp, strerror(errno));
    return false;
  }
  put_chart(f, title, xlabel, ylabel, s, ns);
  bool ok = !ferror(f);
  ok = fclose(f) == 0 && ok;
  if (!ok || rename(tmp, path) != 0) {
    snprintf(err, DLRT_ERR_LEN, "%s: cannot write: %s", path, strerror(errno));
    unlink(tmp);
    return false;
  }
  return true;
}

/* svg.c — tests of the SVG chart writer: the file is complete and
 * self-contained, ticks fall on round numbers covering the data, text is
 * escaped, NaN leaves a gap, a single epoch still draws, and an
 * unwritable path is an error. */
#include <math.h>

#include "rt_test.h"

static char *plot(const char *name, const dlrt_series *s, int ns, bool *ok, char *err) {
  size_t n;
  const char *p = tpath(name);
  *ok = dlrt_svg_plot(p, "loss <by> \"epoch\" & more", "epoch", "loss", s, ns, err);
  char *text = *ok ? (char *)read_file(p, &n) : NULL;
  if (text) {
    char *t = realloc(text, n + 1);
    text = t ? t : text;
    text[n] = 0;
  }
  return text;
}

static int count(const char *s, const char *what) {
  int n = 0;
  for (const char *p = s; (p = strstr(p, what)); p++)
    n++;
  return n;
}

static void test_chart(void) {
  double tr[] = {0.91, 0.52, 0.40, 0.33}, va[] = {0.80, NAN, 0.45, 0.23};
  dlrt_series s[2] = {{"train loss", tr, 4}, {"validation loss", va, 4}};
  char err[DLRT_ERR_LEN] = "";
  bool ok;
  char *t = plot("a.svg", s, 2, &ok, err);
  check("svg_written", ok && t, "%s", err);
  if (!t)
    return;
  check("svg_complete", strncmp(t, "<?xml version=\"1.0\"", 19) == 0 &&
        strstr(t, "<svg xmlns=\"http://www.w3.org/2000/svg\"") &&
        strcmp(t + strlen(t) - 7, "</svg>\n") == 0 && count(t, "<svg") == 1, "%.200s", t);
  check("svg_escapes_text", strstr(t, "loss &lt;by&gt; &quot;epoch&quot; &amp; more") &&
        !strstr(t, "<by>"), "title not escaped");
  /* y from 0.23 to 0.91: ticks 0.2, 0.3, ..., 1.0 */
  check("svg_round_ticks", strstr(t, ">0.2</text>") && strstr(t, ">1.0</text>") &&
        strstr(t, ">0.6</text>") && !strstr(t, ">0.1</text>") && !strstr(t, ">1.1</text>"),
        "tick labels wrong");
  check("svg_x_ticks_epochs", strstr(t, ">1</text>") && strstr(t, ">4</text>") &&
        !strstr(t, ">5</text>"), "epoch ticks wrong");
  /* train: one polyline; validation: two, split by the NaN; 7 dots */
  check("svg_nan_gap", count(t, "<polyline fill=\"none\" stroke=\"#") == 3 &&
        count(t, "<circle") == 7, "%d polylines, %d dots",
        count(t, "<polyline fill=\"none\" stroke=\"#"), count(t, "<circle"));
  check("svg_legend", strstr(t, ">train loss</text>") && strstr(t, ">validation loss</text>"),
        "legend missing");
  free(t);
}

static void test_edges(void) {
  double one[] = {0.5};
  dlrt_series s = {"train loss", one, 1};
  char err[DLRT_ERR_LEN] = "";
  bool ok;
  char *t = plot("one.svg", &s, 1, &ok, err);
  check("svg_single_point", ok && t && count(t, "<circle") == 1 && !strstr(t, "nan"),
        "%s", err);
  free(t);
  double none[] = {NAN, NAN};
  s = (dlrt_series){"x", none, 2};
  t = plot("none.svg", &s, 1, &ok, err);
  check("svg_no_finite_values", ok && t && count(t, "<circle") == 0 && !strstr(t, "nan"),
        "%s", err);
  free(t);
  check("svg_unwritable", !dlrt_svg_plot(tpath("nodir/x.svg"), "t", "x", "y", &s, 1, err) &&
        strstr(err, "cannot create"), "%s", err);
}

int main(void) {
  t_begin();
  test_chart();
  test_edges();
  return t_end();
}

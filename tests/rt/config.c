/* config.c — tests of the train section as values: numbers and calls as
 * people type them, each learning-rate schedule against its formula, and
 * the runtime scalars of a step, Adam's bias corrections included. */
#include <math.h>

#include "rt_test.h"

static void test_numbers(void) {
  double v = 0;
  check("number_decimal", dlrt_parse_number("0.01", &v) && v == 0.01, "%g", v);
  check("number_exponent", dlrt_parse_number(" 1e-3 ", &v) && v == 1e-3, "%g", v);
  check("number_quotient", dlrt_parse_number("1/255", &v) && v == 1.0 / 255, "%g", v);
  check("number_quotient_spaces", dlrt_parse_number("1 / 4", &v) && v == 0.25, "%g", v);
  check("number_refuses_junk", !dlrt_parse_number("0.1x", &v) && !dlrt_parse_number("", &v) &&
        !dlrt_parse_number("1/0", &v) && !dlrt_parse_number("nan", &v) &&
        !dlrt_parse_number("inf", &v) && !dlrt_parse_number("1/", &v), "accepted junk");
}

static void test_calls(void) {
  dlrt_call c;
  char err[DLRT_ERR_LEN] = "";
  bool ok = dlrt_call_parse(&c, "step(every=2, gamma = 0.5)", err);
  check("call_keywords", ok && strcmp(c.name, "step") == 0 && c.nargs == 2 &&
        strcmp(dlrt_call_arg(&c, "every", 0), "2") == 0 &&
        strcmp(dlrt_call_arg(&c, "gamma", 1), "0.5") == 0 && !dlrt_call_arg(&c, "x", 5),
        "%s", err);
  ok = dlrt_call_parse(&c, "idx(\"a, b.gz\", lab.gz, scale=1/255)", err);
  check("call_positional_and_quoted", ok && c.nargs == 3 &&
        strcmp(dlrt_call_arg(&c, "images", 0), "a, b.gz") == 0 &&
        strcmp(dlrt_call_arg(&c, "labels", 1), "lab.gz") == 0 &&
        strcmp(dlrt_call_arg(&c, "scale", 2), "1/255") == 0, "%s", err);
  ok = dlrt_call_parse(&c, "idx(a, b, classes=[0, 6], mean = [1,2])", err);
  check("call_list_value", ok && c.nargs == 4 &&
        strcmp(dlrt_call_arg(&c, "classes", 9), "[0, 6]") == 0 &&
        strcmp(dlrt_call_arg(&c, "mean", 9), "[1,2]") == 0, "%s", err);
  ok = dlrt_call_parse(&c, "  constant ", err);
  check("call_bare_name", ok && strcmp(c.name, "constant") == 0 && c.nargs == 0, "%s", err);
  ok = dlrt_call_parse(&c, "f(g(1, 2), x=3)", err);
  check("call_nested_parens", ok && c.nargs == 2 && strcmp(c.value[0], "g(1, 2)") == 0, "%s", err);
  check("call_refuses_missing_paren", !dlrt_call_parse(&c, "step(every=2", err) &&
        strstr(err, "expected ',' or ')'"), "%s", err);
  check("call_refuses_trailing_text", !dlrt_call_parse(&c, "step(2) x", err) &&
        strstr(err, "text after ')'"), "%s", err);
  check("call_refuses_empty_arg", !dlrt_call_parse(&c, "step(2,,3)", err) &&
        strstr(err, "empty"), "%s", err);
  check("call_refuses_no_name", !dlrt_call_parse(&c, "(1)", err), "%s", err);
}

static double lr_at(const char *text, double lr0, int64_t epoch, int64_t epochs) {
  dlrt_schedule s;
  char err[DLRT_ERR_LEN];
  if (!dlrt_schedule_parse(&s, text, err))
    return -1;
  return dlrt_schedule_lr(&s, lr0, epoch, epochs);
}

static bool near(double a, double b) {
  return fabs(a - b) <= 1e-12 * fmax(1, fabs(b));
}

static void test_schedules(void) {
  check("schedule_constant", lr_at("constant", 0.1, 7, 10) == 0.1 && lr_at(NULL, 0.1, 3, 10) == 0.1 &&
        lr_at("", 0.1, 3, 10) == 0.1, "constant");
  bool ok = true;
  for (int e = 0; e < 7; e++)
    ok &= near(lr_at("step(every=3, gamma=0.5)", 0.8, e, 7), 0.8 * pow(0.5, e / 3));
  check("schedule_step", ok && lr_at("step(every=3, gamma=0.5)", 0.8, 2, 7) == 0.8 &&
        near(lr_at("step(every=3, gamma=0.5)", 0.8, 3, 7), 0.4), "step");
  check("schedule_step_default_gamma", near(lr_at("step(2)", 1, 2, 9), 0.1), "step(2)");
  ok = true;
  for (int e = 0; e < 6; e++)
    ok &= near(lr_at("exponential(gamma=0.9)", 0.1, e, 6), 0.1 * pow(0.9, e));
  check("schedule_exponential", ok, "exponential");
  ok = true;
  for (int e = 0; e < 5; e++)
    ok &= near(lr_at("cosine(min_lr=0.01)", 0.1, e, 5),
               0.01 + 0.09 * (1 + cos(3.14159265358979323846 * e / 5)) / 2);
  check("schedule_cosine", ok && lr_at("cosine", 0.1, 0, 5) == 0.1 &&
        near(lr_at("cosine()", 0.2, 1, 2), 0.1), "cosine");
  dlrt_schedule s;
  char err[DLRT_ERR_LEN] = "";
  check("schedule_refuses_unknown", !dlrt_schedule_parse(&s, "linear(1)", err) &&
        strstr(err, "unknown lr_schedule 'linear'"), "%s", err);
  check("schedule_refuses_missing_every", !dlrt_schedule_parse(&s, "step(gamma=0.5)", err) &&
        strstr(err, "needs every"), "%s", err);
  check("schedule_refuses_fraction", !dlrt_schedule_parse(&s, "step(every=1.5)", err) &&
        strstr(err, "not a whole number"), "%s", err);
  check("schedule_refuses_bad_arg", !dlrt_schedule_parse(&s, "exponential(rate=0.5)", err) &&
        strstr(err, "no argument 'rate'"), "%s", err);
  check("schedule_refuses_negative", !dlrt_schedule_parse(&s, "exponential(gamma=-1)", err) &&
        strstr(err, "not a number in"), "%s", err);
}

static const char adam[] =
  "dlc-manifest 1\nmodel a\nsignature 1\ndlc 0\nweights 0\nstate 0\n"
  "hyper 0 lr 0.001\nhyper 2 beta1 0.8\nhyper 3 beta2 0.99\nhyper 5 eps 1e-08\n"
  "hyper 10 bias_correction1 1\nhyper 11 bias_correction2 1\n"
  "entry forward 0 0\nend\n";

static void test_hypers(void) {
  dlrt_model m;
  char err[DLRT_ERR_LEN];
  if (!check("hyper_manifest", dlrt_manifest_parse(&m, adam, err), "%s", err))
    return;
  double v[DLRT_HYPERS] = {0};
  for (int i = 0; i < m.nhypers; i++)
    v[m.hypers[i].slot] = m.hypers[i].value;
  float h[DLRT_HYPERS];
  for (int i = 0; i < DLRT_HYPERS; i++)
    h[i] = -7;
  dlrt_hypers_fill(h, &m, v, 0.5, 0);
  check("hyper_fill_step_0", h[0] == 0.5f && h[2] == 0.8f && h[3] == 0.99f && h[5] == 1e-8f &&
        h[10] == (float)(1 / (1 - 0.8)) && h[11] == (float)(1 / sqrt(1 - 0.99)) &&
        h[1] == -7 && h[4] == -7, "lr %g bc1 %g bc2 %g", h[0], h[10], h[11]);
  dlrt_hypers_fill(h, &m, v, 0.25, 9);   /* t = 10 */
  check("hyper_bias_correction_t10", h[0] == 0.25f &&
        h[10] == (float)(1 / (1 - pow(0.8, 10))) && h[11] == (float)(1 / sqrt(1 - pow(0.99, 10))),
        "bc1 %.9g bc2 %.9g", h[10], h[11]);
  dlrt_hypers_fill(h, &m, v, 0.25, 100000);
  check("hyper_bias_correction_late", h[10] == 1.0f && fabsf(h[11] - 1.0f) < 1e-6f,
        "bc1 %.9g bc2 %.9g", h[10], h[11]);
  v[2] = 0.5;   /* an override of beta1 changes the correction */
  dlrt_hypers_fill(h, &m, v, 0.25, 1);
  check("hyper_override_beta1", h[2] == 0.5f && h[10] == (float)(1 / (1 - 0.25)), "bc1 %g", h[10]);
  dlrt_model_free(&m);
}

int main(void) {
  t_begin();
  test_numbers();
  test_calls();
  test_schedules();
  test_hypers();
  return t_end();
}

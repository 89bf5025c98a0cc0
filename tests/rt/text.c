/* text.c — tests of the text source: a corpus folder read in name order
 * with each file once (links to its files and a second link to one
 * outside file skipped, hidden entries and subfolders ignored), parts
 * taken per file and disjoint, a byte outside the vocabulary refused with
 * its file and offset, a missing path; then the windows a character
 * model trains on (labels one byte further on, consecutive and
 * non-overlapping inputs), a part shorter than a window, a model whose
 * inputs do not fit, and the part key checked. */
#include <sys/stat.h>

#include "rt_test.h"

/* x: i32[N, 4] characters, y: i32[N, 4] classes 128, the next ones. */
static const char char_model[] =
  "dlc-manifest 1\nmodel c\nsignature 5\ndlc 0\nweights 0\nstate 0\n"
  "input x i32 data 0 2 -1 4\ninput y i32 label 128 2 -1 4\n"
  "entry forward 0 48\nin x 3 0\nout out f32 3 -1 4 2 3 16\n"
  "end\n";

/* The same with f32 characters: not a character model. */
static const char f32_model[] =
  "dlc-manifest 1\nmodel c\nsignature 5\ndlc 0\nweights 0\nstate 0\n"
  "input x f32 data 0 2 -1 4\ninput y i32 label 128 2 -1 4\n"
  "entry forward 0 48\nin x 3 0\nout out f32 3 -1 4 2 3 16\n"
  "end\n";

static void put(const char *name, const char *text) {
  write_file(tpath(name), text, strlen(text));
}

/* The bytes of t as a string (t's text holds no NUL). */
static const char *str(const dlrt_text *t) {
  static char buf[256];
  snprintf(buf, sizeof buf, "%.*s", (int)t->n, t->bytes ? (const char *)t->bytes : "");
  return buf;
}

static void test_folder(void) {
  char err[DLRT_ERR_LEN] = "";
  char target[512];
  dlrt_text t;
  mkdir(tpath("corpus"), 0755);
  mkdir(tpath("corpus/sub"), 0755);
  put("corpus/b", "0123456789");
  put("corpus/a", "abcdefghij");
  put("corpus/.hidden", "HIDDEN....");
  put("corpus/sub/c", "SUBFOLDER.");
  put("outside", "ABCDEFGHIJ");
  snprintf(target, sizeof target, "%s", tpath("corpus/b"));
  symlink(target, tpath("corpus/0link"));   /* a link sorted before its file */
  snprintf(target, sizeof target, "%s", tpath("outside"));
  symlink(target, tpath("corpus/x1"));       /* two links to one outside file */
  symlink(target, tpath("corpus/x2"));
  bool ok = dlrt_text_load(&t, tpath("corpus"), 0, 1, 128, err);
  check("text_folder_each_file_once", ok && t.n == 30 &&
        strcmp(str(&t), "abcdefghij0123456789ABCDEFGHIJ") == 0 && t.nfiles == 3,
        "%s: %d files, '%s'", err, t.nfiles, str(&t));
  check("text_folder_order", ok && t.nfiles == 3 && strstr(t.files[0], "corpus/a") &&
        strstr(t.files[1], "corpus/b") && strstr(t.files[2], "corpus/x1"), "%s",
        ok && t.nfiles ? t.files[0] : err);
  dlrt_text_free(&t);

  dlrt_text lo, hi;
  bool ok1 = dlrt_text_load(&lo, tpath("corpus"), 0, 0.7, 128, err);
  bool ok2 = ok1 && dlrt_text_load(&hi, tpath("corpus"), 0.7, 1, 128, err);
  char a[64] = "", b[64] = "";
  if (ok1)
    snprintf(a, sizeof a, "%s", str(&lo));
  if (ok2)
    snprintf(b, sizeof b, "%s", str(&hi));
  /* 70% of every file, then the rest: together each file once, no byte
   * in both */
  check("text_parts_per_file_disjoint", ok2 && strcmp(a, "abcdefg0123456ABCDEFG") == 0 &&
        strcmp(b, "hij789HIJ") == 0, "%s: '%s' and '%s'", err, a, b);
  if (ok1)
    dlrt_text_free(&lo);
  if (ok2)
    dlrt_text_free(&hi);

  ok = dlrt_text_load(&t, tpath("corpus/a"), 0.2, 0.5, 128, err);
  check("text_one_file", ok && strcmp(str(&t), "cde") == 0 && t.nfiles == 1, "%s", err);
  if (ok)
    dlrt_text_free(&t);
}

static void test_refused(void) {
  char err[DLRT_ERR_LEN] = "";
  dlrt_text t;
  const char bad[] = "plain \xc3\xa9t\xc3\xa9";
  write_file(tpath("utf8"), bad, sizeof bad - 1);
  bool ok = dlrt_text_load(&t, tpath("utf8"), 0.5, 1, 128, err);
  check("text_refuses_byte_out_of_range", !ok && t.bytes == NULL &&
        strstr(err, tpath("utf8")) && strstr(err, "byte offset 6: byte 195 (0xc3)") &&
        strstr(err, "128"), "%s", err);
  ok = dlrt_text_load(&t, tpath("utf8"), 0, 1, 256, err);
  check("text_bytes_with_256_classes", ok && t.n == (int64_t)sizeof bad - 1, "%s", err);
  if (ok)
    dlrt_text_free(&t);
  ok = dlrt_text_load(&t, tpath("missing"), 0, 1, 128, err);
  check("text_refuses_missing_file", !ok && strstr(err, tpath("missing")) &&
        strstr(err, "cannot open"), "%s", err);
  mkdir(tpath("empty"), 0755);
  ok = dlrt_text_load(&t, tpath("empty"), 0, 1, 128, err);
  check("text_refuses_empty_folder", !ok && strstr(err, "no regular file"), "%s", err);
  ok = dlrt_text_load(&t, tpath("utf8"), 0.5, 0.5, 256, err);
  check("text_refuses_empty_part", !ok && strstr(err, "not a range"), "%s", err);
  char target[512];
  snprintf(target, sizeof target, "%s", tpath("nowhere"));
  mkdir(tpath("broken"), 0755);
  symlink(target, tpath("broken/link"));
  ok = dlrt_text_load(&t, tpath("broken"), 0, 1, 128, err);
  check("text_refuses_broken_link", !ok && strstr(err, "broken/link") &&
        strstr(err, "cannot open"), "%s", err);
}

static bool model(dlrt_model *m, const char *text) {
  char err[DLRT_ERR_LEN];
  return check("text_manifest", dlrt_manifest_parse(m, text, err), "%s", err);
}

static void set(dlrt_model *m, const char *k, const char *v) {
  char err[DLRT_ERR_LEN];
  if (!dlrt_train_set(m, k, v, err))
    printf("    %s\n", err);
}

static void test_windows(void) {
  dlrt_model m;
  dlrt_data d, e;
  char err[DLRT_ERR_LEN] = "";
  if (!model(&m, char_model))
    return;
  put("w.txt", "The quick brown fox jumps over the lazy dog.");   /* 44 bytes */
  set(&m, "data.format", "text");
  set(&m, "data.path", tpath("w.txt"));
  set(&m, "data.part", "0,0.5");
  set(&m, "test.format", "text");
  set(&m, "test.path", tpath("w.txt"));
  set(&m, "test.part", "[0.5, 1]");
  bool ok = dlrt_data_load(&d, &m, "data", 0, err);
  /* 22 bytes: (22 - 1) / 4 = 5 windows */
  const char *s = "The quick brown fox jumps over the lazy dog.";
  bool shifted = ok && d.n == 5 && d.xper == 4 && d.yper == 4;
  for (int64_t i = 0; shifted && i < d.n * 4; i++)
    shifted = ((int32_t *)d.x)[i] == s[i] && ((int32_t *)d.y)[i] == s[i + 1];
  check("text_windows_labels_shifted", shifted, "%s: %lld windows", err,
        (long long)d.n);
  ok = ok && dlrt_data_load(&e, &m, "test", 0, err);
  bool apart = ok && e.n == 5 && ((int32_t *)e.x)[0] == s[22] &&
               ((int32_t *)e.y)[19] == s[42];
  check("text_test_part_after_training_part", apart, "%s", err);
  if (ok)
    dlrt_data_free(&e);
  dlrt_data_free(&d);
  ok = dlrt_data_load(&d, &m, "data", 2, err);
  check("text_limit", ok && d.n == 2, "%s", err);
  dlrt_data_free(&d);

  set(&m, "data.part", "0,0.1");   /* 4 bytes: no window of 5 */
  ok = dlrt_data_load(&d, &m, "data", 0, err);
  check("text_refuses_short_part", !ok && strstr(err, "holds 4 bytes, fewer than one "
        "window of T + 1 = 5"), "%s", err);
  set(&m, "data.part", "0.5,0.2");
  ok = dlrt_data_load(&d, &m, "data", 0, err);
  check("text_refuses_bad_part", !ok && strstr(err, "data.part: '0.5,0.2' is not [lo, hi]"),
        "%s", err);
  dlrt_model_free(&m);

  if (!model(&m, f32_model))
    return;
  set(&m, "data.format", "text");
  set(&m, "data.path", tpath("w.txt"));
  ok = dlrt_data_load(&d, &m, "data", 0, err);
  check("text_refuses_non_character_model", !ok && strstr(err, "i32[N, T]"), "%s", err);
  dlrt_model_free(&m);
}

int main(void) {
  t_begin();
  test_folder();
  test_refused();
  test_windows();
  return t_end();
}

/* link.c — the final link: object file + runtime library -> executable.
 *
 * The runtime library (libdlrt.a) is found beside the dlc executable, which
 * is how both the build tree and an installed copy are laid out; the
 * environment variable DLC_RUNTIME overrides it. The system C compiler
 * ($CC, else cc) links, so the program gets the platform's usual start-up
 * code and libc.
 */
#include "codegen.h"

#include <errno.h>
#include <limits.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

/* Extra flags for the link, fixed when dlc is built: a sanitizer build of
 * dlc links its programs with the same sanitizers, since the runtime
 * library is built with them. */
#ifndef DLC_LINK_FLAGS
#define DLC_LINK_FLAGS ""
#endif

/* Path of libdlrt.a into buf; false if it cannot be found. */
static bool runtime_path(char *buf, size_t n) {
  const char *env = getenv("DLC_RUNTIME");
  if (env && *env) {
    snprintf(buf, n, "%s", env);
    return access(buf, R_OK) == 0;
  }
  char exe[PATH_MAX];
  ssize_t len = readlink("/proc/self/exe", exe, sizeof exe - 1);
  if (len <= 0) return false;
  exe[len] = 0;
  char *slash = strrchr(exe, '/');
  if (!slash) return false;
  *slash = 0;
  snprintf(buf, n, "%s/libdlrt.a", exe);
  return access(buf, R_OK) == 0;
}

/* Contract in codegen.h. */
bool cg_write_file(const char *path, const char *text) {
  FILE *f = fopen(path, "w");
  if (!f) {
    fprintf(stderr, "dlc: error: cannot write %s\n", path);
    return false;
  }
  bool ok = fputs(text, f) >= 0;
  ok = (fclose(f) == 0) && ok;
  if (!ok) fprintf(stderr, "dlc: error: cannot write %s\n", path);
  return ok;
}

bool cg_link(const char *obj, const char *exe, double *seconds) {
  char rt[PATH_MAX + 32];
  if (!runtime_path(rt, sizeof rt)) {
    fprintf(stderr, "dlc: error: cannot find the runtime library libdlrt.a beside dlc "
                    "(set DLC_RUNTIME to its path)\n");
    return false;
  }
  const char *cc = getenv("CC");
  if (!cc || !*cc) cc = "cc";
  char flags[] = DLC_LINK_FLAGS;
  static char o_flag[] = "-o", lz[] = "-lz", lm[] = "-lm", lpthread[] = "-lpthread",
              ldl[] = "-ldl";
  char *argv[16] = {(char *)cc, o_flag, (char *)exe, (char *)obj, rt, lz, lm, lpthread, ldl};
  int argc = 9;
  for (char *t = strtok(flags, " "); t && argc < 15; t = strtok(NULL, " ")) argv[argc++] = t;
  argv[argc] = NULL;
  struct timespec t0, t1;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  pid_t pid;
  int rc = posix_spawnp(&pid, cc, NULL, NULL, argv, environ);
  if (rc != 0) {
    fprintf(stderr, "dlc: error: cannot run the C compiler '%s' to link: %s\n", cc,
            strerror(rc));
    return false;
  }
  int status;
  while (waitpid(pid, &status, 0) < 0)
    if (errno != EINTR) return false;
  clock_gettime(CLOCK_MONOTONIC, &t1);
  if (seconds)
    *seconds = (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    fprintf(stderr, "dlc: error: linking %s failed (%s %s %s ...)\n", exe, cc, obj, rt);
    return false;
  }
  return true;
}

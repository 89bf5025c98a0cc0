/* fuzz.h — what the fuzz targets share.
 *
 * Each target defines LLVMFuzzerTestOneInput and is built twice: with
 * libFuzzer (clang -fsanitize=fuzzer, `make fuzz`) to search for crashes,
 * and with replay.c's main() and the normal compiler, to replay the
 * regression inputs under tests/fuzz/regress/ in `make test`. A target
 * returns 0 for every input the program refuses cleanly; a crash, a
 * sanitizer report, a leak or an abort() for an inconsistency it checks
 * is a finding.
 */
#ifndef DLC_FUZZ_H
#define DLC_FUZZ_H

#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Write data to this process's scratch file (created on first use, with
 * the given suffix, removed at exit) and return its path: for loaders that
 * read only from a path. */
const char *fuzz_file(const uint8_t *data, size_t size, const char *suffix);

/* A NUL-terminated heap copy of data, or NULL when data holds a NUL (text
 * formats refuse those before parsing). */
char *fuzz_text(const uint8_t *data, size_t size);

/* Read n bytes at p (so that ASan checks a loader's claim about the size
 * of what it returned). */
void fuzz_touch(const void *p, size_t n);

#endif

/* pool.c — tests of the thread pool: every index of [0, n) runs exactly
 * once for many n and thread counts, the split is the documented
 * deterministic one, nested and concurrent calls work, consecutive
 * asynchronous calls never overlap, and the cost of a call is small. */
#include <pthread.h>
#include <stdatomic.h>
#include <time.h>

#include "rt_test.h"

enum { MAXN = 1 << 20, MAXCHUNK = 2048 };

static _Atomic int hits[MAXN];
static _Atomic int nchunks;
static int64_t chunk_lo[MAXCHUNK], chunk_hi[MAXCHUNK];

static void count_kernel(const dlrt_frame *f, int64_t lo, int64_t hi) {
  (void)f;
  int c = atomic_fetch_add(&nchunks, 1);
  if (c < MAXCHUNK)
    chunk_lo[c] = lo, chunk_hi[c] = hi;
  for (int64_t i = lo; i < hi; i++)
    atomic_fetch_add(&hits[i], 1);
}

/* Run n through the pool; check coverage and that the chunks are exactly
 * the documented split for T = min(threads, n). */
static bool run_and_check(int64_t n, int threads, char *why, size_t cap) {
  for (int64_t i = 0; i < n; i++)
    atomic_store(&hits[i], 0);
  atomic_store(&nchunks, 0);
  dlrt_parallel(count_kernel, NULL, n);
  for (int64_t i = 0; i < n; i++)
    if (atomic_load(&hits[i]) != 1)
      return snprintf(why, cap, "n=%lld threads=%d: index %lld ran %d times",
                      (long long)n, threads, (long long)i, atomic_load(&hits[i])), false;
  int T = n < threads ? (int)n : threads;
  if (atomic_load(&nchunks) != (n > 0 ? T : 0))
    return snprintf(why, cap, "n=%lld threads=%d: %d chunks, want %d", (long long)n,
                    threads, atomic_load(&nchunks), T), false;
  for (int c = 0; c < T && T > 1; c++) {
    int64_t q = n / T, r = n % T, lo = c * q + (c < r ? c : r), found = 0;
    for (int k = 0; k < T; k++)
      found += chunk_lo[k] == lo && chunk_hi[k] == lo + q + (c < r);
    if (found != 1)
      return snprintf(why, cap, "n=%lld threads=%d: chunk %d [%lld, %lld) missing",
                      (long long)n, threads, c, (long long)lo,
                      (long long)(lo + q + (c < r))), false;
  }
  return true;
}

static void test_inline_without_pool(void) {
  char why[256] = "";
  bool ok = run_and_check(1000, 1, why, sizeof why);
  check("pool_uninitialised_runs_inline", ok && atomic_load(&nchunks) == 1, "%s", why);
}

static void test_coverage(void) {
  static const int threads[] = {1, 2, 3, 4, 7, 8, 16};
  static const int64_t big[] = {1000, 4097, 65537, MAXN};
  char why[256] = "";
  bool ok = true;
  for (size_t t = 0; t < sizeof threads / sizeof *threads && ok; t++) {
    dlrt_pool_init(threads[t]);
    ok = dlrt_pool_threads() == threads[t];
    if (!ok)
      snprintf(why, sizeof why, "dlrt_pool_threads() = %d, want %d",
               dlrt_pool_threads(), threads[t]);
    for (int64_t n = 0; n <= 200 && ok; n++)
      ok = run_and_check(n, threads[t], why, sizeof why);
    for (size_t b = 0; b < sizeof big / sizeof *big && ok; b++)
      ok = run_and_check(big[b], threads[t], why, sizeof why);
  }
  dlrt_pool_shutdown();
  check("pool_covers_range_once_with_documented_split", ok, "%s", why);
  dlrt_pool_init(0);
  check("pool_default_one_thread_per_cpu",
        dlrt_pool_threads() == (int)sysconf(_SC_NPROCESSORS_ONLN),
        "%d threads, %ld CPUs", dlrt_pool_threads(), sysconf(_SC_NPROCESSORS_ONLN));
  ok = run_and_check(12345, dlrt_pool_threads(), why, sizeof why);
  check("pool_default_covers_range", ok, "%s", why);
  dlrt_pool_shutdown();
  ok = run_and_check(100, 1, why, sizeof why) && atomic_load(&nchunks) == 1;
  check("pool_after_shutdown_runs_inline", ok, "%s", why);
}

/* The outer kernel calls dlrt_parallel for each of its indices; the inner
 * call must run inline on the same thread. */
static _Atomic int inner_calls, inner_bad;
static void inner_kernel(const dlrt_frame *f, int64_t lo, int64_t hi) {
  (void)f;
  atomic_fetch_add(&inner_calls, 1);
  if (lo != 0 || hi != 50)
    atomic_fetch_add(&inner_bad, 1);
}

static void outer_kernel(const dlrt_frame *f, int64_t lo, int64_t hi) {
  for (int64_t i = lo; i < hi; i++)
    dlrt_parallel(inner_kernel, f, 50);
}

static void test_nested(void) {
  dlrt_pool_init(4);
  dlrt_parallel(outer_kernel, NULL, 37);
  dlrt_pool_shutdown();
  check("pool_nested_call_runs_inline",
        atomic_load(&inner_calls) == 37 && atomic_load(&inner_bad) == 0,
        "%d inner calls (want 37), %d with a split range", atomic_load(&inner_calls),
        atomic_load(&inner_bad));
}

/* Sum of [lo, hi) into a per-call total passed through the frame. */
static void sum_kernel(const dlrt_frame *f, int64_t lo, int64_t hi) {
  int64_t s = 0;
  for (int64_t i = lo; i < hi; i++)
    s += i;
  atomic_fetch_add((_Atomic int64_t *)(void *)f->base[1], s);
}

static int64_t parallel_sum(int64_t n) {
  _Atomic int64_t total = 0;
  dlrt_frame f = {.base = {NULL, (char *)(void *)&total}};
  dlrt_parallel(sum_kernel, &f, n);
  return atomic_load(&total);
}

static void *caller_thread(void *arg) {
  _Atomic int *bad = arg;
  for (int i = 0; i < 20000; i++) {
    int64_t n = 1 + i % 97;
    if (parallel_sum(n) != n * (n - 1) / 2)
      atomic_fetch_add(bad, 1);
  }
  return NULL;
}

static void test_concurrent_callers(void) {
  _Atomic int bad = 0;
  pthread_t t[3];
  dlrt_pool_init(4);
  for (int i = 0; i < 3; i++)
    pthread_create(&t[i], NULL, caller_thread, &bad);
  for (int i = 0; i < 3; i++)
    pthread_join(t[i], NULL);
  dlrt_pool_shutdown();
  check("pool_concurrent_callers", atomic_load(&bad) == 0, "%d wrong sums", atomic_load(&bad));
}

/* Chains of asynchronous calls where each job reads what other chunks of
 * the job before wrote (index n - 1 - i): without the barrier between
 * jobs a chunk reads a value of the round before. Jobs of one element
 * (run on the caller) sit between them, and a join ends each chain. */
enum { CHAIN = 4099 };
static int64_t chain_x[CHAIN], chain_y[CHAIN], chain_n, chain_round;
static _Atomic int chain_bad;

static void chain_fill(const dlrt_frame *f, int64_t lo, int64_t hi) {
  (void)f;
  for (int64_t i = lo; i < hi; i++)
    chain_x[i] = chain_round * 100000 + i;
}

static void chain_mirror(const dlrt_frame *f, int64_t lo, int64_t hi) {
  (void)f;
  for (int64_t i = lo; i < hi; i++) {
    int64_t j = chain_n - 1 - i;
    if (chain_x[j] != chain_round * 100000 + j)
      atomic_fetch_add(&chain_bad, 1);
    chain_y[i] = chain_x[j] + 1;
  }
}

static void chain_back(const dlrt_frame *f, int64_t lo, int64_t hi) {
  (void)f;
  for (int64_t i = lo; i < hi; i++) {
    int64_t j = chain_n - 1 - i;
    if (chain_y[j] != chain_round * 100000 + i + 1)
      atomic_fetch_add(&chain_bad, 1);
    chain_x[i] = chain_y[j] * 2;
  }
}

/* One element: the caller, alone, after the jobs before. */
static void chain_single(const dlrt_frame *f, int64_t lo, int64_t hi) {
  (void)f;
  (void)lo;
  (void)hi;
  for (int64_t i = 0; i < chain_n; i++)
    if (chain_x[i] != 2 * (chain_round * 100000 + i + 1))
      atomic_fetch_add(&chain_bad, 1);
}

static void test_async_chains(void) {
  static const int threads[] = {2, 3, 4, 7};
  int bad_after_join = 0;
  for (size_t t = 0; t < sizeof threads / sizeof *threads; t++) {
    dlrt_pool_init(threads[t]);
    for (int r = 0; r < 3000; r++) {
      chain_round = r;
      chain_n = 1 + (r * 131) % CHAIN;
      dlrt_parallel_async(chain_fill, NULL, chain_n);
      dlrt_parallel_async(chain_mirror, NULL, chain_n);
      dlrt_parallel_async(chain_back, NULL, chain_n);
      if (r % 2)
        dlrt_parallel_async(chain_single, NULL, 1);
      dlrt_pool_join();
      for (int64_t i = 0; i < chain_n; i++)
        bad_after_join += chain_x[i] != 2 * (r * 100000 + i + 1);
    }
    dlrt_pool_shutdown();
  }
  check("pool_async_jobs_meet_at_a_barrier", atomic_load(&chain_bad) == 0 && bad_after_join == 0,
        "%d stale reads inside the chains, %d after the join", atomic_load(&chain_bad), bad_after_join);
}

/* Several outside threads each running async chains: each holds the pool
 * from its first call to its join. */
static void *async_caller(void *arg) {
  _Atomic int *bad = arg;
  for (int i = 0; i < 5000; i++) {
    int64_t n = 2 + i % 61;
    _Atomic int64_t t1 = 0, t2 = 0;
    dlrt_frame f1 = {.base = {NULL, (char *)(void *)&t1}};
    dlrt_frame f2 = {.base = {NULL, (char *)(void *)&t2}};
    dlrt_parallel_async(sum_kernel, &f1, n);
    dlrt_parallel_async(sum_kernel, &f2, 2 * n);
    dlrt_pool_join();
    if (atomic_load(&t1) != n * (n - 1) / 2 || atomic_load(&t2) != n * (2 * n - 1))
      atomic_fetch_add(bad, 1);
  }
  return NULL;
}

static void test_async_concurrent_callers(void) {
  _Atomic int bad = 0;
  pthread_t t[3];
  dlrt_pool_init(3);
  for (int i = 0; i < 3; i++)
    pthread_create(&t[i], NULL, async_caller, &bad);
  for (int i = 0; i < 3; i++)
    pthread_join(t[i], NULL);
  dlrt_pool_shutdown();
  check("pool_async_concurrent_callers", atomic_load(&bad) == 0, "%d wrong sums", atomic_load(&bad));
}

static double seconds(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Many back-to-back calls (the pattern of generated code), with pauses
 * that let the workers fall asleep in between. */
static void test_stress_and_overhead(void) {
  int threads = (int)sysconf(_SC_NPROCESSORS_ONLN), bad = 0, calls = 200000;
  dlrt_pool_init(threads);
  double t0 = seconds();
  for (int i = 0; i < calls; i++)
    bad += parallel_sum(64) != 64 * 63 / 2;
  double per_call = (seconds() - t0) / calls;
  for (int i = 0; i < 50; i++) {
    struct timespec ts = {0, 2000000};  /* 2 ms: workers go to sleep */
    nanosleep(&ts, NULL);
    bad += parallel_sum(1000) != 1000 * 999 / 2;
  }
  dlrt_pool_shutdown();
  printf("    (%.2f us per dlrt_parallel call with %d threads)\n", per_call * 1e6, threads);
  check("pool_stress", bad == 0, "%d wrong sums", bad);
}

int main(void) {
  t_begin();
  test_inline_without_pool();
  test_coverage();
  test_nested();
  test_concurrent_callers();
  test_async_chains();
  test_async_concurrent_callers();
  test_stress_and_overhead();
  return t_end();
}

/* pool.c — the thread pool that runs generated kernels over the cores.
 *
 * The one idea: dlrt_parallel is called once per kernel, thousands of times
 * a second, so a call must cost about as much as waking threads that are
 * already awake. Workers are persistent; a job is published by bumping one
 * atomic word that workers spin on for a short while before sleeping on a
 * condition variable, and the caller runs chunk 0 itself.
 *
 * The job word: (sequence << 16) | T, where T is the number of chunks of
 * the job. A worker reads T from the same word that announced the job, so
 * a worker that does not take part in a job (id >= T) never reads the
 * job's other fields, which the caller may be rewriting for the next job.
 * A worker that does take part has not yet decremented `pending`, so the
 * caller cannot have moved on.
 *
 *   caller: k, f, n := job; pending := T - 1; word := seq | T; [broadcast]
 *           run chunk 0; wait until pending == 0
 *   worker: wait until word != seen; if id < T: run chunk id; pending -= 1
 *
 * Sleeping is race-free without taking the mutex on every call: a worker
 * counts itself in `sleepers` under the mutex before re-checking the word
 * and waiting; the caller stores the word and then reads `sleepers` (both
 * sequentially consistent), so either the worker sees the new word or the
 * caller sees the sleeper and broadcasts under the mutex. The same pattern
 * (`caller_waiting`) wakes a caller that fell asleep waiting for the last
 * chunk.
 *
 * Split: chunk i is [i*q + min(i, r), (i+1)*q + min(i+1, r)) with
 * q = n / T and r = n % T: contiguous, sizes differ by at most one, and a
 * function of (n, T) only, so results are deterministic for a given
 * thread count.
 *
 * Nesting: a kernel that calls dlrt_parallel (from a worker, or from the
 * caller while it runs chunk 0) runs its range inline. Calls from several
 * outside threads are serialised.
 */
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "dlrt.h"

enum {
  MAX_THREADS = 1024,   /* T must fit in the 16 low bits of the job word */
  SPIN = 1 << 14,       /* polls before sleeping (a few hundred us) */
  SPIN_OVERSUB = 32,    /* the same when there are more threads than CPUs */
};

typedef struct Pool {
  int nthreads;                 /* including the caller; 0: not started */
  int spin;
  pthread_t *tid;               /* nthreads - 1 workers */
  pthread_mutex_t mu;           /* guards sleeping and waking */
  pthread_cond_t wake, done;
  pthread_mutex_t submit;       /* one job at a time */
  _Atomic uint64_t word;        /* (seq << 16) | T of the latest job */
  _Atomic int pending;          /* chunks of the job not yet finished */
  _Atomic int sleepers;         /* workers waiting on `wake` */
  _Atomic int caller_waiting;   /* caller waiting on `done` */
  _Atomic bool stop;
  uint64_t seq;
  /* The current job; written only while no worker of it is running. */
  dlrt_kernel k;
  const dlrt_frame *f;
  int64_t n;
} Pool;

static Pool pool = {
  .mu = PTHREAD_MUTEX_INITIALIZER,
  .wake = PTHREAD_COND_INITIALIZER,
  .done = PTHREAD_COND_INITIALIZER,
  .submit = PTHREAD_MUTEX_INITIALIZER,
};

/* True on workers, and on a caller while it runs a job: nested calls run
 * inline. */
static _Thread_local bool in_job;

/* This thread's sample-group scratch (dlrt_tile_scratch), freed when a
 * worker exits and, for the caller's, when the pool shuts down. */
static _Thread_local char *scratch;
static _Thread_local int64_t scratch_have;

static void scratch_free(void) {
  free(scratch);
  scratch = NULL;
  scratch_have = 0;
}

static void cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#endif
}

static void run_chunk(int i, int T) {
  int64_t q = pool.n / T, r = pool.n % T;
  int64_t lo = i * q + (i < r ? i : r);
  int64_t hi = lo + q + (i < r ? 1 : 0);
  pool.k(pool.f, lo, hi);
}

static uint64_t wait_for_job(uint64_t seen) {
  for (int i = 0; i < pool.spin; i++) {
    uint64_t w = atomic_load(&pool.word);
    if (w != seen)
      return w;
    cpu_relax();
  }
  pthread_mutex_lock(&pool.mu);
  atomic_fetch_add(&pool.sleepers, 1);
  uint64_t w;
  while ((w = atomic_load(&pool.word)) == seen)
    pthread_cond_wait(&pool.wake, &pool.mu);
  atomic_fetch_sub(&pool.sleepers, 1);
  pthread_mutex_unlock(&pool.mu);
  return w;
}

static void *worker_main(void *arg) {
  int id = (int)(intptr_t)arg;
  uint64_t seen = 0;  /* the word before the first job */
  in_job = true;
  for (;;) {
    uint64_t w = wait_for_job(seen);
    seen = w;
    if (atomic_load(&pool.stop)) {
      scratch_free();
      return NULL;
    }
    int T = (int)(w & 0xffff);
    if (id >= T)
      continue;
    run_chunk(id, T);
    if (atomic_fetch_sub(&pool.pending, 1) == 1 &&
        atomic_load(&pool.caller_waiting)) {
      pthread_mutex_lock(&pool.mu);
      pthread_cond_signal(&pool.done);
      pthread_mutex_unlock(&pool.mu);
    }
  }
}

/* Make w the current job word and wake sleeping workers. */
static void publish(uint64_t w) {
  atomic_store(&pool.word, w);
  if (atomic_load(&pool.sleepers) > 0) {
    pthread_mutex_lock(&pool.mu);
    pthread_cond_broadcast(&pool.wake);
    pthread_mutex_unlock(&pool.mu);
  }
}

static void wait_for_workers(void) {
  for (int i = 0; i < pool.spin; i++) {
    if (atomic_load(&pool.pending) == 0)
      return;
    cpu_relax();
  }
  atomic_store(&pool.caller_waiting, 1);
  pthread_mutex_lock(&pool.mu);
  while (atomic_load(&pool.pending) != 0)
    pthread_cond_wait(&pool.done, &pool.mu);
  pthread_mutex_unlock(&pool.mu);
}

/* Contract in dlrt.h. n <= 0 runs nothing. */
void dlrt_parallel(dlrt_kernel k, const dlrt_frame *f, int64_t n) {
  if (n <= 0)
    return;
  int T = pool.nthreads < n ? pool.nthreads : (int)n;
  if (T <= 1 || in_job) {
    k(f, 0, n);
    return;
  }
  pthread_mutex_lock(&pool.submit);
  in_job = true;
  pool.k = k;
  pool.f = f;
  pool.n = n;
  atomic_store(&pool.pending, T - 1);
  atomic_store(&pool.caller_waiting, 0);
  publish((++pool.seq << 16) | (uint64_t)T);
  run_chunk(0, T);
  wait_for_workers();
  in_job = false;
  pthread_mutex_unlock(&pool.submit);
}

static int online_cpus(void) {
  long n = sysconf(_SC_NPROCESSORS_ONLN);
  return n < 1 ? 1 : n > MAX_THREADS ? MAX_THREADS : (int)n;
}

/* Start nthreads - 1 workers (0: one thread per online CPU; clamped to
 * 1..MAX_THREADS). A running pool is shut down first. If the system refuses
 * a thread, the pool runs with the threads it got. Not thread-safe against
 * concurrent dlrt_parallel calls. */
void dlrt_pool_init(int nthreads) {
  dlrt_pool_shutdown();
  int cpus = online_cpus();
  int n = nthreads <= 0 ? cpus : nthreads > MAX_THREADS ? MAX_THREADS : nthreads;
  pool.spin = n > cpus ? SPIN_OVERSUB : SPIN;
  pool.tid = n > 1 ? malloc(sizeof *pool.tid * (size_t)(n - 1)) : NULL;
  if (!pool.tid)
    n = 1;
  atomic_store(&pool.stop, false);
  atomic_store(&pool.word, 0);
  pool.seq = 0;
  int started = 1;
  while (started < n &&
         pthread_create(&pool.tid[started - 1], NULL, worker_main,
                        (void *)(intptr_t)started) == 0)
    started++;
  pool.nthreads = started;
}

int dlrt_pool_threads(void) {
  return pool.nthreads < 1 ? 1 : pool.nthreads;
}

/* Stop and join the workers; dlrt_parallel runs inline afterwards. Safe to
 * call when the pool was never started. */
void dlrt_pool_shutdown(void) {
  scratch_free();
  if (pool.nthreads == 0)
    return;
  pthread_mutex_lock(&pool.submit);
  atomic_store(&pool.stop, true);
  pthread_mutex_lock(&pool.mu);   /* publish() under the mutex: all wake */
  atomic_store(&pool.word, (++pool.seq) << 16);
  pthread_cond_broadcast(&pool.wake);
  pthread_mutex_unlock(&pool.mu);
  for (int i = 0; i < pool.nthreads - 1; i++)
    pthread_join(pool.tid[i], NULL);
  free(pool.tid);
  pool.tid = NULL;
  pool.nthreads = 0;
  pthread_mutex_unlock(&pool.submit);
}

/* Contract in dlrt.h. Each thread keeps its own block (a group's steps run
 * on several threads at once); it only grows. */
char *dlrt_tile_scratch(int64_t bytes) {
  if (bytes <= scratch_have)
    return scratch;
  int64_t size = (bytes + 63) / 64 * 64;
  char *b = aligned_alloc(64, (size_t)size);
  if (!b) {
    fprintf(stderr, "error: out of memory for %lld bytes of scratch\n", (long long)size);
    exit(1);
  }
  free(scratch);
  scratch = b;
  scratch_have = size;
  return scratch;
}

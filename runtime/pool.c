/* pool.c — the thread pool that runs generated kernels over the cores.
 *
 * The one idea: dlrt_parallel is called once per kernel, thousands of times
 * a second, so a call must cost about as much as one message from the
 * caller's core to each worker's and one back. Workers are persistent and
 * spin for a short while on the job word before sleeping on a condition
 * variable; the caller runs chunk 0 itself.
 *
 * Jobs are numbered 1, 2, ...; job s lives in slot s & 1 and is announced
 * by storing s in `word`. Each worker has a cache line of its own, done[i],
 * holding the last job it has finished (or had no chunk of), so finishing
 * costs the worker one store to its own line and the caller one read of it,
 * not a read-modify-write of a line every thread wants.
 *
 *   caller (job s): slot[s & 1] := k, f, n, T; word := s; [broadcast]
 *                   wait until every done[i] >= s - 1; run chunk 0
 *   worker i:       for each job j it has not seen, in order:
 *                   if i < T: wait until every other done[x] >= j - 1;
 *                             run chunk i
 *                   done[i] := j
 *
 * That is dlrt_parallel_async: it returns once the caller's chunk is done,
 * and the workers' chunks finish before any chunk of the next job starts,
 * so consecutive kernels pass through one barrier instead of a join and a
 * fresh start. dlrt_pool_join waits for the workers' chunks;
 * dlrt_parallel is the two together. Between its first async call and the
 * join a caller holds the pool (`submit`): calls from several outside
 * threads are serialised whole.
 *
 * Two slots are enough: the caller writes slot s & 1 when it starts job s,
 * having waited (while starting job s - 1) for every worker to finish
 * job s - 2, the slot's previous job. A worker that sees word s may not
 * have seen s - 1 yet, and runs both in turn; it cannot be further behind.
 *
 * Sleeping is race-free without taking the mutex on every call: a worker
 * counts itself in `sleepers` under the mutex before re-checking the word
 * and waiting; the caller stores the word and then reads `sleepers` (both
 * sequentially consistent), so either the worker sees the new word or the
 * caller sees the sleeper and broadcasts under the mutex. The same pattern
 * (`caller_waiting`) wakes a caller that fell asleep waiting for the
 * workers.
 *
 * Split: chunk i is [i*q + min(i, r), (i+1)*q + min(i+1, r)) with
 * q = n / T and r = n % T: contiguous, sizes differ by at most one, and a
 * function of (n, T) only, so results are deterministic for a given
 * thread count.
 *
 * Nesting: a kernel that calls dlrt_parallel (from a worker, or from the
 * caller while it runs chunk 0) runs its range inline.
 */
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "dlrt.h"

enum {
  MAX_THREADS = 1024,
  SPIN = 1 << 14,       /* polls before sleeping (a few hundred us) */
  SPIN_OVERSUB = 32,    /* the same when there are more threads than CPUs */
};

typedef struct Job {
  dlrt_kernel k;
  const dlrt_frame *f;
  int64_t n;
  int T;                /* chunks; workers with id >= T sit it out */
} Job;

/* One cache line, written by one thread. */
typedef struct Line {
  _Alignas(64) _Atomic uint64_t v;
} Line;

typedef struct Pool {
  int nthreads;                 /* including the caller; 0: not started */
  int spin;
  pthread_t *tid;               /* nthreads - 1 workers */
  Line *done;                   /* [nthreads]; done[0] unused */
  pthread_mutex_t mu;           /* guards sleeping and waking */
  pthread_cond_t wake, finished;
  pthread_mutex_t submit;       /* held from a caller's job to its join */
  uint64_t seq;                 /* the latest job; the holder's */
  _Alignas(64) _Atomic uint64_t word;  /* the latest job, announced */
  Job slot[2];                  /* job s in slot[s & 1] */
  _Alignas(64) _Atomic int sleepers;   /* workers waiting on `wake` */
  _Atomic int caller_waiting;   /* caller waiting on `finished` */
  _Atomic bool stop;
} Pool;

static Pool pool = {
  .mu = PTHREAD_MUTEX_INITIALIZER,
  .wake = PTHREAD_COND_INITIALIZER,
  .finished = PTHREAD_COND_INITIALIZER,
  .submit = PTHREAD_MUTEX_INITIALIZER,
};

/* True on workers, and on a caller while it runs a chunk: nested calls run
 * inline. */
static _Thread_local bool in_job;
/* This thread holds `submit`: its latest job may still run on workers. */
static _Thread_local bool holding;

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

static void run_chunk(const Job *j, int i) {
  int64_t q = j->n / j->T, r = j->n % j->T;
  int64_t lo = i * q + (i < r ? i : r);
  int64_t hi = lo + q + (i < r ? 1 : 0);
  j->k(j->f, lo, hi);
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

/* Worker `id` before its chunk of job s: the other workers' chunks of job
 * s - 1 are done (the caller's is: it announced s after it). They are
 * running, not asleep, so this spins, yielding the CPU now and then for
 * a pool with more threads than CPUs. */
static void wait_for_peers(int id, uint64_t s) {
  for (int x = 1; x < pool.nthreads; x++)
    for (int i = 1; x != id && atomic_load(&pool.done[x].v) < s - 1; i++) {
      cpu_relax();
      if (i % pool.spin == 0)
        sched_yield();
    }
}

static void *worker_main(void *arg) {
  int id = (int)(intptr_t)arg;
  uint64_t last = 0;  /* the last job this worker finished */
  in_job = true;
  for (;;) {
    uint64_t w = wait_for_job(last);
    if (atomic_load(&pool.stop)) {
      scratch_free();
      return NULL;
    }
    for (uint64_t s = last + 1; s <= w; s++) {
      const Job *j = &pool.slot[s & 1];
      if (id < j->T) {
        wait_for_peers(id, s);
        run_chunk(j, id);
      }
      atomic_store(&pool.done[id].v, s);
      if (atomic_load(&pool.caller_waiting)) {
        pthread_mutex_lock(&pool.mu);
        pthread_cond_signal(&pool.finished);
        pthread_mutex_unlock(&pool.mu);
      }
    }
    last = w;
  }
}

/* Make s the current job and wake sleeping workers. */
static void publish(uint64_t s) {
  atomic_store(&pool.word, s);
  if (atomic_load(&pool.sleepers) > 0) {
    pthread_mutex_lock(&pool.mu);
    pthread_cond_broadcast(&pool.wake);
    pthread_mutex_unlock(&pool.mu);
  }
}

static bool workers_done(uint64_t s) {
  for (int i = 1; i < pool.nthreads; i++)
    if (atomic_load(&pool.done[i].v) < s)
      return false;
  return true;
}

/* Wait until every worker has finished job s. */
static void wait_for_workers(uint64_t s) {
  for (int i = 0; i < pool.spin; i++) {
    if (workers_done(s))
      return;
    cpu_relax();
  }
  atomic_store(&pool.caller_waiting, 1);
  pthread_mutex_lock(&pool.mu);
  while (!workers_done(s))
    pthread_cond_wait(&pool.finished, &pool.mu);
  pthread_mutex_unlock(&pool.mu);
  atomic_store(&pool.caller_waiting, 0);
}

/* Contract in dlrt.h. n <= 0 runs nothing. */
void dlrt_parallel_async(dlrt_kernel k, const dlrt_frame *f, int64_t n) {
  if (n <= 0)
    return;
  int T = pool.nthreads < n ? pool.nthreads : (int)n;
  if (in_job) {
    k(f, 0, n);
    return;
  }
  if (T <= 1) {
    dlrt_pool_join();
    k(f, 0, n);
    return;
  }
  if (!holding) {
    pthread_mutex_lock(&pool.submit);
    holding = true;
  }
  uint64_t s = ++pool.seq;
  Job *j = &pool.slot[s & 1];
  *j = (Job){.k = k, .f = f, .n = n, .T = T};
  publish(s);
  wait_for_workers(s - 1);
  in_job = true;
  run_chunk(j, 0);
  in_job = false;
}

/* Contract in dlrt.h. */
void dlrt_pool_join(void) {
  if (!holding || in_job)
    return;
  wait_for_workers(pool.seq);
  holding = false;
  pthread_mutex_unlock(&pool.submit);
}

/* Contract in dlrt.h. */
void dlrt_parallel(dlrt_kernel k, const dlrt_frame *f, int64_t n) {
  dlrt_parallel_async(k, f, n);
  dlrt_pool_join();
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
  pool.done = n > 1 ? aligned_alloc(64, sizeof *pool.done * (size_t)n) : NULL;
  if (!pool.tid || !pool.done) {
    free(pool.tid);
    free(pool.done);
    pool.tid = NULL;
    pool.done = NULL;
    n = 1;
  }
  for (int i = 0; i < n && pool.done; i++)
    atomic_store(&pool.done[i].v, 0);
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
  dlrt_pool_join();
  scratch_free();
  if (pool.nthreads == 0)
    return;
  pthread_mutex_lock(&pool.submit);
  atomic_store(&pool.stop, true);
  pthread_mutex_lock(&pool.mu);   /* publish() under the mutex: all wake */
  atomic_store(&pool.word, ++pool.seq);
  pthread_cond_broadcast(&pool.wake);
  pthread_mutex_unlock(&pool.mu);
  for (int i = 0; i < pool.nthreads - 1; i++)
    pthread_join(pool.tid[i], NULL);
  free(pool.tid);
  free(pool.done);
  pool.tid = NULL;
  pool.done = NULL;
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

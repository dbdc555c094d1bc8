#pragma once
// The engine's thread pool: workers are created once (set_threads), and parallel_for
// hands them chunks of an index range. With one thread (the default, and always in the
// single-threaded wasm build) parallel_for is a plain loop on the calling thread.
//
// Work is split so that every output is computed by exactly the code one thread would
// run: which thread takes a chunk never changes a result, bit for bit.
#include <cstddef>
#include <type_traits>

namespace hooklab {

// Uses n threads from now on (the caller counts as one: n - 1 workers are started; the
// old workers are stopped first). n < 1 is an error. Must not be called while a
// parallel_for is running.
void set_threads(int n);
// Threads in use (>= 1).
int threads();
// The hardware's threads, capped at 8 (beyond that the GEMMs are memory-bound and a
// page's other work needs a core too); at least 1.
int default_threads();
// 0 on the calling thread, 1 .. threads()-1 on the workers: an index into per-thread
// scratch that the caller allocates before parallel_for (so that no worker allocates).
int thread_slot();

namespace detail {
using ChunkFn = void (*)(void* ctx, int begin, int end);
void parallel_run(int n, int grain, ChunkFn fn, void* ctx);
}  // namespace detail

// Calls f(begin, end) over [0, n) in contiguous chunks of at most `grain` indices, spread
// over the pool; the caller works too and returns when every chunk is done. Chunks are
// taken first come, first served, so a slower core takes fewer; they are of `grain`
// indices until fewer than 2 x threads x grain are left, then a (2 x threads)-th of what
// is left (at least 1), so that the threads finish together. With one thread, or inside
// a chunk, they are of `grain` exactly (the last may be shorter). A
// parallel_for inside a chunk runs as a plain loop. An exception thrown by f is
// rethrown here (the first one; the other chunks still run).
template <class F>
void parallel_for(int n, int grain, F&& f) {
    if (n <= 0) return;
    if (grain < 1) grain = 1;
    using Fn = std::remove_reference_t<F>;
    detail::parallel_run(n, grain, [](void* ctx, int b, int e) { (*static_cast<Fn*>(ctx))(b, e); },
                         const_cast<void*>(static_cast<const void*>(&f)));
}

}  // namespace hooklab

// The pool behind parallel_for (see parallel.h). One job at a time: the caller publishes
// it under the mutex and bumps a generation counter; workers wake (a short spin first,
// since the forward issues GEMMs back to back, then a condition variable), take chunks
// from an atomic counter, and the last one out signals the caller.
#include "hooklab/parallel.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <exception>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "hooklab/error.h"

namespace hooklab {

namespace {

thread_local int tl_slot = 0;
thread_local bool tl_inside = false;  // running a chunk: nested parallel_for is a plain loop

class Pool {
public:
    ~Pool() { stop(); }

    int size() const { return static_cast<int>(workers_.size()) + 1; }

    void start(int n) {
        stop();
        stop_ = false;
        // Each worker starts from the generation as it is now, so a job posted before the
        // worker first runs is not missed.
        const unsigned g0 = gen_.load();
        for (int i = 1; i < n; ++i) workers_.emplace_back([this, i, g0] { loop(i, g0); });
    }

    void stop() {
        if (workers_.empty()) return;
        {
            std::lock_guard<std::mutex> l(m_);
            stop_ = true;
            gen_.fetch_add(1);
        }
        wake_.notify_all();
        for (auto& t : workers_) t.join();
        workers_.clear();
    }

    void run(int n, int grain, detail::ChunkFn fn, void* ctx) {
        {
            std::lock_guard<std::mutex> l(m_);
            fn_ = fn;
            ctx_ = ctx;
            n_ = n;
            grain_ = grain;
            error_ = nullptr;
            next_.store(0);
            busy_.store(static_cast<int>(workers_.size()));
            gen_.fetch_add(1);
        }
        wake_.notify_all();
        work();
        // Wait for every worker to have seen this job (even one that found no chunk left),
        // so that the next job cannot be confused with this one.
        spin_while([&] { return busy_.load() != 0; });
        if (busy_.load() != 0) {
            std::unique_lock<std::mutex> l(m_);
            done_.wait(l, [&] { return busy_.load() == 0; });
        }
        if (error_) std::rethrow_exception(error_);
    }

private:
    // Spin this long before sleeping: the forward issues its GEMMs a fraction of a
    // millisecond apart, and waking a sleeping thread (a futex; Atomics.notify in wasm)
    // costs tens of microseconds each time.
    template <class Cond>
    static void spin_while(Cond cond) {
        const auto until = std::chrono::steady_clock::now() + std::chrono::microseconds(1000);
        for (int i = 1; cond(); ++i) {
            std::this_thread::yield();
            if (i % 64 == 0 && std::chrono::steady_clock::now() > until) return;
        }
    }

    void work() {
        tl_inside = true;
        for (;;) {
            const int b = next_.fetch_add(grain_);
            if (b >= n_) break;
            try {
                fn_(ctx_, b, std::min(n_, b + grain_));
            } catch (...) {
                std::lock_guard<std::mutex> l(m_);
                if (!error_) error_ = std::current_exception();
            }
        }
        tl_inside = false;
    }

    void loop(int slot, unsigned seen) {
        tl_slot = slot;
        for (;;) {
            spin_while([&] { return gen_.load() == seen; });
            if (gen_.load() == seen) {
                std::unique_lock<std::mutex> l(m_);
                wake_.wait(l, [&] { return gen_.load() != seen; });
            }
            seen = gen_.load();
            if (stop_) return;
            work();
            if (busy_.fetch_sub(1) == 1) {
                std::lock_guard<std::mutex> l(m_);
                done_.notify_one();
            }
        }
    }

    std::vector<std::thread> workers_;
    std::mutex m_;
    std::condition_variable wake_, done_;
    std::atomic<unsigned> gen_{0};
    std::atomic<int> next_{0}, busy_{0};
    std::atomic<bool> stop_{false};
    detail::ChunkFn fn_ = nullptr;
    void* ctx_ = nullptr;
    int n_ = 0, grain_ = 1;
    std::exception_ptr error_;
};

Pool& pool() {
    static Pool p;
    return p;
}

}  // namespace

void set_threads(int n) {
    if (n < 1 || n > 256) throw Error("threads must be between 1 and 256, got " + std::to_string(n));
    if (n != pool().size()) pool().start(n);
}

int threads() { return pool().size(); }

int default_threads() {
    const unsigned hw = std::thread::hardware_concurrency();
    return static_cast<int>(std::clamp(hw, 1u, 8u));
}

int thread_slot() { return tl_slot; }

namespace detail {

void parallel_run(int n, int grain, ChunkFn fn, void* ctx) {
    if (tl_inside || pool().size() == 1 || n <= grain) {
        for (int b = 0; b < n; b += grain) fn(ctx, b, std::min(n, b + grain));
        return;
    }
    pool().run(n, grain, fn, ctx);
}

}  // namespace detail

}  // namespace hooklab
